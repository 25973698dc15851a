using FluentAssertions;
using Qwen.Inference.Batching;
using Xunit;
using FakeRequest = Qwen.Inference.Tests.Batching.SchedulerTests.FakeRequest;

namespace Qwen.Inference.Tests.Batching;

/// <summary>The KV reservation the scheduler reports (for metrics) is the one its admission rule charges.</summary>
public sealed class ReservedKvTokensTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Running_requests_reserve_their_count_times_the_longest_reservation_and_waiting_ones_nothing()
    {
        var scheduler = new Scheduler<FakeRequest>(new BatchingOptions { MaxBatchSize = 4, KvBudgetTokens = 1000, MaxQueueLength = 10 });
        scheduler.ReservedKvTokens.Should().Be(0);
        var a = FakeRequest.Chat("a", reserved: 100);
        var b = FakeRequest.Chat("b", reserved: 150);
        scheduler.Enqueue(a);
        scheduler.Enqueue(b);
        scheduler.ReservedKvTokens.Should().Be(0, "waiting requests hold no KV");

        scheduler.Plan(Now).Prefill.Should().Equal(a, b);
        scheduler.ReservedKvTokens.Should().Be(300, "two rows padded to the longest reservation of 150");
        scheduler.PrefillCompleted(a);
        scheduler.PrefillCompleted(b);
        scheduler.ReservedKvTokens.Should().Be(300);

        scheduler.Finished(b);
        scheduler.ReservedKvTokens.Should().Be(100);
        scheduler.Finished(a);
        scheduler.ReservedKvTokens.Should().Be(0);
    }
}
