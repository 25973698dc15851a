namespace Qwen.Grains;

/// <summary>This silo's conversation grains at a glance: activations, turns running and turns waiting behind them (for metrics).</summary>
public sealed class ConversationActivity
{
    private int _active;
    private int _running;
    private int _waiting;

    public int Active => Volatile.Read(ref _active);
    public int RunningTurns => Volatile.Read(ref _running);
    public int WaitingTurns => Volatile.Read(ref _waiting);

    internal void Activated() => Interlocked.Increment(ref _active);
    internal void Deactivated() => Interlocked.Decrement(ref _active);
    internal void Waiting() => Interlocked.Increment(ref _waiting);
    internal void Started() { Interlocked.Decrement(ref _waiting); Interlocked.Increment(ref _running); }
    internal void Abandoned() => Interlocked.Decrement(ref _waiting);
    internal void Finished() => Interlocked.Decrement(ref _running);
}
