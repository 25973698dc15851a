namespace Qwen.Grains.Interfaces;

/// <summary>
/// One user's chat conversation, keyed by user id. Turns run one at a time in arrival order;
/// each completed turn is persisted before it is acknowledged.
/// </summary>
public interface IConversationGrain : IGrainWithStringKey
{
    /// <summary>Sends a user message and returns the assistant's whole reply.</summary>
    Task<ChatTurnResult> SendMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken);

    /// <summary>Sends a user message; yields the reply as it is generated, then the completed turn.</summary>
    IAsyncEnumerable<ChatStreamEvent> StreamMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken);

    /// <summary>The stored user and assistant messages, oldest first (no system messages).</summary>
    Task<ConversationHistory> GetHistoryAsync(CancellationToken cancellationToken);

    /// <summary>Deletes the conversation's history.</summary>
    Task ResetAsync(CancellationToken cancellationToken);
}
