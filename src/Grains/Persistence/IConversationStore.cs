using Qwen.Grains.Interfaces;

namespace Qwen.Grains.Persistence;

/// <summary>
/// Durable conversation state in a table of turns (behind the conversation grain's storage provider). Every write
/// carries the version the writer read (an ETag): a stale writer fails instead of
/// overwriting, so two silos that briefly both think they own a user can never both commit.
/// </summary>
public interface IConversationStore
{
    /// <summary>The stored turns (oldest first) and the current version (0 for a new conversation).</summary>
    Task<ConversationState> ReadAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// Appends one completed turn if the stored version is still <paramref name="expectedVersion"/>.
    /// A turn whose id is already stored is not written again: the stored turn is returned with
    /// <see cref="AppendResult.AlreadyStored"/> set, whatever the version.
    /// </summary>
    /// <exception cref="ConcurrencyConflictException">Another writer changed the conversation.</exception>
    /// <exception cref="StorageUnavailableException">The store cannot be reached.</exception>
    Task<AppendResult> AppendTurnAsync(string userId, StoredTurn turn, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Deletes all turns of the conversation; returns the new version.</summary>
    Task<long> ResetAsync(string userId, CancellationToken cancellationToken);
}

/// <summary>One completed exchange: the user's message and the assistant's reply.</summary>
[GenerateSerializer, Immutable, Alias("qwen.StoredTurn")]
public sealed record StoredTurn(string TurnId, string UserMessage, string AssistantReply, DateTimeOffset CompletedAt)
{
    /// <summary>The user message's sentiment when the turn asked for it; null otherwise (and for turns stored before it was kept).</summary>
    [Id(0)]
    public MessageSentiment? Sentiment { get; init; }
}

public sealed record ConversationState(string UserId, IReadOnlyList<StoredTurn> Turns, long Version)
{
    public static ConversationState Empty(string userId) => new(userId, [], 0);
}

public sealed record AppendResult(StoredTurn Turn, long Version, bool AlreadyStored);

/// <summary>The conversation changed since it was read (another writer won).</summary>
public sealed class ConcurrencyConflictException(string message) : Exception(message);

/// <summary>The store cannot be reached or failed; nothing was written.</summary>
public sealed class StorageUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
