using Qwen.Grains;

namespace Qwen.Silo.Runtime;

/// <summary>One user's conversation grain on this silo and the queue its calls run through.</summary>
internal sealed class GrainActivation
{
    private bool _activated;

    public GrainActivation(ConversationGrain grain, int maxQueuedTurns, TimeProvider time)
    {
        Grain = grain;
        Turns = new TurnQueue(maxQueuedTurns, time);
    }

    public string UserId => Grain.UserId;
    public ConversationGrain Grain { get; }
    public TurnQueue Turns { get; }

    /// <summary>Queues a call as a turn; null when this activation is being deactivated.</summary>
    public Task<T>? TryEnqueue<T>(Func<ConversationGrain, CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        Turns.TryEnqueue(async ct =>
        {
            await EnsureActivatedAsync(ct).ConfigureAwait(false);
            return await call(Grain, ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Runs only when the queue is closed and empty, so never alongside a turn.</summary>
    public Task DeactivateAsync(CancellationToken cancellationToken) =>
        _activated ? Grain.OnDeactivateAsync(cancellationToken) : Task.CompletedTask;

    // Inside a turn, so never concurrent with itself. A failed activation fails only the call that
    // triggered it (e.g. storage down: Unavailable); the next call tries again.
    private async Task EnsureActivatedAsync(CancellationToken cancellationToken)
    {
        if (_activated) return;
        await Grain.OnActivateAsync(cancellationToken).ConfigureAwait(false);
        _activated = true;
    }
}
