using System.Collections.Concurrent;
using Qwen.Cluster.Postgres;
using Qwen.Grains.Persistence;

namespace Qwen.Silo.Storage;

/// <summary>
/// Conversations in process memory for the embedded mode and for tests, with exactly the
/// semantics of <see cref="PostgresConversationStore"/> (versions, idempotent turn ids, input
/// rules, timestamps kept to the microsecond in UTC). Thread-safe; one lock per conversation.
/// </summary>
public sealed class InMemoryConversationStore : IConversationStore
{
    private readonly ConcurrentDictionary<string, Conversation> conversations = new(StringComparer.Ordinal);

    public Task<ConversationState> ReadAsync(string userId, CancellationToken cancellationToken)
    {
        StorableText.ValidateUserId(userId);
        cancellationToken.ThrowIfCancellationRequested();
        if (!conversations.TryGetValue(userId, out Conversation? conversation))
        {
            return Task.FromResult(ConversationState.Empty(userId));
        }

        lock (conversation.Gate)
        {
            return Task.FromResult(new ConversationState(userId, [.. conversation.Turns], conversation.Version));
        }
    }

    public Task<AppendResult> AppendTurnAsync(string userId, StoredTurn turn, long expectedVersion, CancellationToken cancellationToken)
    {
        StorableText.ValidateUserId(userId);
        StorableText.ValidateTurn(turn);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
        cancellationToken.ThrowIfCancellationRequested();
        StoredTurn stored = turn with { CompletedAt = PostgresTimestamps.Normalize(turn.CompletedAt) };
        Conversation conversation = conversations.GetOrAdd(userId, _ => new Conversation());
        lock (conversation.Gate)
        {
            if (conversation.TurnsById.TryGetValue(stored.TurnId, out StoredTurn? existing))
            {
                return Task.FromResult(new AppendResult(existing, conversation.Version, AlreadyStored: true));
            }

            if (conversation.Version != expectedVersion)
            {
                throw new ConcurrencyConflictException(
                    $"conversation '{userId}' is at version {conversation.Version}, not {expectedVersion}: another writer changed it");
            }

            conversation.Turns.Add(stored);
            conversation.TurnsById.Add(stored.TurnId, stored);
            conversation.Version++;
            return Task.FromResult(new AppendResult(stored, conversation.Version, AlreadyStored: false));
        }
    }

    public Task<long> ResetAsync(string userId, CancellationToken cancellationToken)
    {
        StorableText.ValidateUserId(userId);
        cancellationToken.ThrowIfCancellationRequested();
        Conversation conversation = conversations.GetOrAdd(userId, _ => new Conversation());
        lock (conversation.Gate)
        {
            conversation.Turns.Clear();
            conversation.TurnsById.Clear();
            conversation.Version++;
            return Task.FromResult(conversation.Version);
        }
    }

    /// <summary>One user's turns; version 0 with no turns is the same as no conversation.</summary>
    private sealed class Conversation
    {
        public Lock Gate { get; } = new();

        public List<StoredTurn> Turns { get; } = [];

        public Dictionary<string, StoredTurn> TurnsById { get; } = new(StringComparer.Ordinal);

        public long Version { get; set; }
    }
}
