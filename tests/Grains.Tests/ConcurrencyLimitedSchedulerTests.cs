using Xunit;
using FluentAssertions;
using Qwen.Grains.Interfaces;

namespace Qwen.Grains.Tests;

/// <summary>The worker's scheduler on its own: how many run, how many wait, and refusals beyond that.</summary>
public sealed class ConcurrencyLimitedSchedulerTests
{
    [Fact]
    public async Task It_runs_up_to_the_limit_queues_up_to_the_queue_length_and_refuses_the_rest()
    {
        var scheduler = new ConcurrencyLimitedScheduler(maxConcurrent: 2, maxQueued: 3);
        using var gate = new ManualResetEventSlim();
        var admitted = Enumerable.Range(0, 5).Select(i => scheduler.RunAsync(_ => { gate.Wait(); return i; }, CancellationToken.None)).ToArray();
        var refused = scheduler.RunAsync(_ => -1, CancellationToken.None);

        (await refused.Invoking(t => t).Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Overloaded);
        await Support.TestTimeout.UntilAsync(() => scheduler.Running == 2, TimeSpan.FromSeconds(10), "two requests run");
        scheduler.Queued.Should().Be(3);
        gate.Set();
        (await Task.WhenAll(admitted)).Should().Equal(0, 1, 2, 3, 4);
        scheduler.Running.Should().Be(0);
        scheduler.Queued.Should().Be(0);
    }

    [Fact]
    public async Task A_request_cancelled_while_waiting_gives_up_its_place()
    {
        var scheduler = new ConcurrencyLimitedScheduler(maxConcurrent: 1, maxQueued: 1);
        using var gate = new ManualResetEventSlim();
        var running = scheduler.RunAsync(_ => { gate.Wait(); return 1; }, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = scheduler.RunAsync(_ => 2, cancel.Token);

        await cancel.CancelAsync();
        await waiting.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        var next = scheduler.RunAsync(_ => 3, CancellationToken.None);
        gate.Set();
        (await running).Should().Be(1);
        (await next).Should().Be(3);
    }
}
