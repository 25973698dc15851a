using Xunit;
using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Silo.Runtime;

namespace Qwen.Grains.Tests;

/// <summary>The per-activation turn queue on its own: order, one at a time, cancellation while waiting, capacity, closing.</summary>
public sealed class TurnQueueTests
{
    [Fact]
    public async Task Turns_run_one_at_a_time_in_the_order_they_were_queued()
    {
        var queue = new TurnQueue(1000, TimeProvider.System);
        var order = new List<int>();
        int running = 0, maxRunning = 0;
        var turns = Enumerable.Range(0, 200).Select(i => queue.TryEnqueue(async _ =>
        {
            maxRunning = Math.Max(maxRunning, Interlocked.Increment(ref running));
            await Task.Yield();
            order.Add(i);
            Interlocked.Decrement(ref running);
            return i;
        }, CancellationToken.None)!).ToArray();

        (await Task.WhenAll(turns)).Should().Equal(Enumerable.Range(0, 200));
        order.Should().Equal(Enumerable.Range(0, 200));
        maxRunning.Should().Be(1);
    }

    [Fact]
    public async Task A_turn_cancelled_while_waiting_never_runs_and_leaves_the_queue_at_once()
    {
        var queue = new TurnQueue(10, TimeProvider.System);
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = queue.TryEnqueue(_ => gate.Task, CancellationToken.None)!;
        await TestSupportWait.UntilAsync(() => queue.IsRunning);
        using var cancel = new CancellationTokenSource();
        bool ran = false;
        var second = queue.TryEnqueue(_ => { ran = true; return Task.FromResult(2); }, cancel.Token)!;
        var third = queue.TryEnqueue(_ => Task.FromResult(3), CancellationToken.None)!;

        await cancel.CancelAsync();
        await second.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        queue.Queued.Should().Be(1);
        gate.SetResult(1);
        (await third).Should().Be(3);
        (await first).Should().Be(1);
        ran.Should().BeFalse();
    }

    [Fact]
    public async Task A_full_queue_refuses_as_overloaded_and_a_closed_one_returns_null()
    {
        var queue = new TurnQueue(1, TimeProvider.System);
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = queue.TryEnqueue(_ => gate.Task, CancellationToken.None)!;
        await TestSupportWait.UntilAsync(() => queue.IsRunning);
        var second = queue.TryEnqueue(_ => Task.FromResult(2), CancellationToken.None)!;

        Action third = () => queue.TryEnqueue(_ => Task.FromResult(3), CancellationToken.None);
        third.Should().Throw<GrainCallException>().Which.Kind.Should().Be(GrainErrorKind.Overloaded);
        queue.TryClose(TimeSpan.Zero).Should().BeFalse("turns are running and waiting");
        gate.SetResult(1);
        await Task.WhenAll(first, second);
        await TestSupportWait.UntilAsync(() => !queue.IsRunning);
        queue.TryClose(TimeSpan.FromMinutes(1)).Should().BeFalse("the last turn just finished");
        queue.TryClose(TimeSpan.Zero).Should().BeTrue();
        queue.TryEnqueue(_ => Task.FromResult(4), CancellationToken.None).Should().BeNull();
    }

    [Fact]
    public async Task A_failing_turn_fails_only_its_own_caller()
    {
        var queue = new TurnQueue(10, TimeProvider.System);
        var failing = queue.TryEnqueue<int>(_ => throw new InvalidOperationException("boom"), CancellationToken.None)!;
        var next = queue.TryEnqueue(_ => Task.FromResult(7), CancellationToken.None)!;

        await failing.Invoking(t => t).Should().ThrowAsync<InvalidOperationException>().WithMessage("boom");
        (await next).Should().Be(7);
    }

    private static class TestSupportWait
    {
        public static Task UntilAsync(Func<bool> condition) =>
            Support.TestTimeout.UntilAsync(condition, TimeSpan.FromSeconds(10), "the queue reaches the expected state");
    }
}
