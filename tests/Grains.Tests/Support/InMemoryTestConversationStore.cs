using Qwen.Grains.Persistence;

namespace Qwen.Grains.Tests.Support;

/// <summary>
/// A minimal conversation store with the contract's semantics (version check, turn ids stored
/// once), counting reads and writes so tests can tell what the grain did.
/// </summary>
internal sealed class InMemoryTestConversationStore : IConversationStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (List<StoredTurn> Turns, long Version)> _conversations = new(StringComparer.Ordinal);
    private int _reads;
    private int _appends;

    public int Reads => Volatile.Read(ref _reads);

    /// <summary>Turns actually written (not counting those answered as already stored).</summary>
    public int Appends => Volatile.Read(ref _appends);

    public Task<ConversationState> ReadAsync(string userId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _reads);
        lock (_gate)
        {
            return Task.FromResult(_conversations.TryGetValue(userId, out var c)
                ? new ConversationState(userId, c.Turns.ToArray(), c.Version)
                : ConversationState.Empty(userId));
        }
    }

    public Task<AppendResult> AppendTurnAsync(string userId, StoredTurn turn, long expectedVersion, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var (turns, version) = _conversations.TryGetValue(userId, out var c) ? c : ([], 0);
            if (turns.FirstOrDefault(t => t.TurnId == turn.TurnId) is { } stored) return Task.FromResult(new AppendResult(stored, version, true));
            if (version != expectedVersion)
                throw new ConcurrencyConflictException($"conversation '{userId}' is at version {version}, not {expectedVersion}");
            turns.Add(turn);
            _conversations[userId] = (turns, version + 1);
            Interlocked.Increment(ref _appends);
            return Task.FromResult(new AppendResult(turn, version + 1, false));
        }
    }

    public Task<long> ResetAsync(string userId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            long version = (_conversations.TryGetValue(userId, out var c) ? c.Version : 0) + 1;
            _conversations[userId] = ([], version);
            return Task.FromResult(version);
        }
    }
}
