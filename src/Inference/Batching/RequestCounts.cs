namespace Qwen.Inference.Batching;

/// <summary>
/// Requests as their callers see them: waiting (submitted, not started) and running (started,
/// not answered). A cancelled request stops counting at once, although its slot is freed at
/// the engine's next step.
/// </summary>
internal sealed class RequestCounts
{
    private int _waiting;
    private int _running;

    public int Waiting => Volatile.Read(ref _waiting);
    public int Running => Volatile.Read(ref _running);

    public void Submitted() => Interlocked.Increment(ref _waiting);

    public void Started()
    {
        Interlocked.Increment(ref _running);
        Interlocked.Decrement(ref _waiting);
    }

    public void Answered(bool started) => Interlocked.Decrement(ref started ? ref _running : ref _waiting);
}
