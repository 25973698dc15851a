using Qwen.Grains.Interfaces;

namespace Qwen.Grains;

/// <summary>
/// A call's cancellation token that also fires at the call's deadline, so every wait inside the
/// call (a turn queue, a full scheduler, storage) ends by then. <see cref="HasExpired"/> tells a
/// deadline apart from the caller leaving.
/// </summary>
public sealed class CallDeadline : IDisposable
{
    // CancelAfter takes at most int.MaxValue milliseconds (about 24 days).
    private static readonly TimeSpan Longest = TimeSpan.FromMilliseconds(int.MaxValue);

    private readonly CancellationTokenSource _source;
    private readonly CancellationToken _caller;
    private volatile bool _abandoned;

    public CallDeadline(DateTimeOffset? deadline, CancellationToken callerToken)
    {
        Deadline = deadline;
        _caller = callerToken;
        _source = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        if (deadline is { } due)
        {
            var left = due - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero) _source.Cancel();
            else _source.CancelAfter(left < Longest ? left : Longest);
        }
    }

    public DateTimeOffset? Deadline { get; }

    /// <summary>Cancelled when the caller cancels or the deadline passes.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>
    /// The call was stopped by its deadline: this one, or the caller's own deadline for the same
    /// time (an outer timer may fire first), rather than by a caller that left or gave up earlier.
    /// </summary>
    public bool HasExpired => Deadline is { } due && _source.IsCancellationRequested && !_abandoned
        && (!_caller.IsCancellationRequested || DateTimeOffset.UtcNow >= due - TimerSlack);

    // Timers may fire a little before the wall clock reaches the deadline.
    private static readonly TimeSpan TimerSlack = TimeSpan.FromMilliseconds(50);

    /// <summary>Stops the call because its consumer left (not a deadline).</summary>
    public void Cancel()
    {
        _abandoned = true;
        _source.Cancel();
    }

    /// <summary>The error a caller gets when the deadline passed during <paramref name="stage"/>.</summary>
    public GrainCallException Exceeded(string stage, Exception? inner = null) => Exceeded(Deadline, stage, inner);

    public static GrainCallException Exceeded(DateTimeOffset? deadline, string stage, Exception? inner = null) =>
        new(GrainErrorKind.Timeout, $"the request's deadline ({deadline:O}) passed {stage}; it was stopped and its place freed", inner);

    public void Dispose() => _source.Dispose();
}
