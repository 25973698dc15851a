namespace Qwen.Grains.Interfaces;

/// <summary>
/// One user's chat conversation, keyed by user id. Turns run one at a time in arrival order;
/// each completed turn is persisted before it is acknowledged.
/// </summary>
[Alias("qwen.IConversationGrain")]
public interface IConversationGrain : IGrainWithStringKey
{
    /// <summary>Sends a user message and returns the assistant's whole reply.</summary>
    [Alias("SendMessage")]
    Task<ChatTurnResult> SendMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken);

    /// <summary>Sends a user message; yields the reply as it is generated, then the completed turn.</summary>
    [Alias("StreamMessage")]
    IAsyncEnumerable<ChatStreamEvent> StreamMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken);

    /// <summary>The stored user and assistant messages, oldest first (no system messages).</summary>
    [Alias("GetHistory")]
    Task<ConversationHistory> GetHistoryAsync(CancellationToken cancellationToken);

    /// <summary>Deletes the conversation's history; false when it had none (nothing was deleted).</summary>
    [Alias("Reset")]
    Task<bool> ResetAsync(CancellationToken cancellationToken);
}
