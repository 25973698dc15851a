using Qwen.Grains.Persistence;

namespace Qwen.Grains.Tests.Support;

/// <summary>
/// A minimal conversation store with the contract's semantics (version check, turn ids stored
/// once), counting reads and writes so tests can tell what the grain did. It outlives test clusters,
/// so a new cluster over the same store is a restart on the same storage. Reads and appends can be
/// held at the door (<see cref="Reads"/>, <see cref="Appends"/>) to order them against grain calls.
/// </summary>
internal sealed class InMemoryTestConversationStore : IConversationStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (List<StoredTurn> Turns, long Version)> _conversations = new(StringComparer.Ordinal);
    private int _readCount;
    private int _appendCount;

    /// <summary>Holds reads when asked to.</summary>
    public Door ReadDoor { get; } = new();

    /// <summary>Holds appends when asked to.</summary>
    public Door AppendDoor { get; } = new();

    public int Reads => Volatile.Read(ref _readCount);

    /// <summary>Turns actually written (not counting those answered as already stored).</summary>
    public int Appends => Volatile.Read(ref _appendCount);

    public async Task<ConversationState> ReadAsync(string userId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _readCount);
        ConversationState state;
        lock (_gate)
        {
            state = _conversations.TryGetValue(userId, out var c)
                ? new ConversationState(userId, c.Turns.ToArray(), c.Version)
                : ConversationState.Empty(userId);
        }
        // Read first, answer later: a held read returns what was stored when it arrived.
        await ReadDoor.PassAsync(cancellationToken);
        return state;
    }

    public async Task<AppendResult> AppendTurnAsync(string userId, StoredTurn turn, long expectedVersion, CancellationToken cancellationToken)
    {
        await AppendDoor.PassAsync(cancellationToken);
        lock (_gate)
        {
            var (turns, version) = _conversations.TryGetValue(userId, out var c) ? c : ([], 0);
            if (turns.FirstOrDefault(t => t.TurnId == turn.TurnId) is { } stored) return new AppendResult(stored, version, true);
            if (version != expectedVersion)
                throw new ConcurrencyConflictException($"conversation '{userId}' is at version {version}, not {expectedVersion}");
            turns.Add(turn);
            _conversations[userId] = (turns, version + 1);
            Interlocked.Increment(ref _appendCount);
            return new AppendResult(turn, version + 1, false);
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

    /// <summary>Lets callers through, or, while held, keeps them waiting and says when one arrived.</summary>
    internal sealed class Door
    {
        private readonly SemaphoreSlim _arrived = new(0);
        private TaskCompletionSource? _held;

        public void Hold() => Volatile.Write(ref _held, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void Release() => Interlocked.Exchange(ref _held, null)?.TrySetResult();

        /// <summary>Waits until a caller is waiting at the held door.</summary>
        public async Task WaitForArrivalAsync(CancellationToken cancellationToken)
        {
            if (!await _arrived.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken)) throw new TimeoutException("nobody arrived at the door");
        }

        internal async Task PassAsync(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Volatile.Read(ref _held) is not { } held) return;
            _arrived.Release();
            await held.Task.WaitAsync(cancellationToken);
        }
    }
}
