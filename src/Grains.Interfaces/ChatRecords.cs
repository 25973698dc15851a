namespace Qwen.Grains.Interfaces;

// Primary-constructor members are serialized by position: append new ones at the end, never reorder.

/// <summary>
/// A user message for a conversation. <paramref name="TurnId"/> identifies the turn across
/// retries: a turn already stored under this id is answered from storage, never run twice.
/// </summary>
[GenerateSerializer, Immutable, Alias("qwen.ChatTurnRequest")]
public sealed record ChatTurnRequest(string TurnId, string Content, int? MaxNewTokens = null, float? Temperature = null)
{
    /// <summary>Sampling beyond the temperature, and text stop sequences, for this turn's reply.</summary>
    [Id(0)]
    public SamplingParameters? Sampling { get; init; }

    /// <summary>
    /// When the caller stops waiting: past it the turn leaves its queue or the model batch and
    /// fails as <see cref="GrainErrorKind.Timeout"/>. Null: no deadline of its own.
    /// </summary>
    [Id(1)]
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Also judge the message's sentiment (from the reply's prompt, sharing its KV); it is stored with the turn.</summary>
    [Id(2)]
    public bool Sentiment { get; init; }
}

[GenerateSerializer, Immutable, Alias("qwen.ChatTurnResult")]
public sealed record ChatTurnResult(
    string UserId,
    string TurnId,
    string Reply,
    int TurnNumber,
    int PromptTokens,
    int CompletionTokens,
    string FinishReason,
    PromptTruncationInfo Truncation,
    string SiloId,
    ReplyDegradation? Degraded = null)
{
    /// <summary>The user message's sentiment, when the turn asked for it (a replayed turn gives the stored one).</summary>
    [Id(0)]
    public MessageSentiment? Sentiment { get; init; }
}

/// <summary>
/// A streamed piece of a reply (<see cref="TextDelta"/>) or, last, the completed turn. A turn that
/// asked for the message's sentiment yields it first, alone (<see cref="Sentiment"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("qwen.ChatStreamEvent")]
public sealed record ChatStreamEvent(string? TextDelta, ChatTurnResult? Completed)
{
    [Id(0)]
    public MessageSentiment? Sentiment { get; init; }
}

[GenerateSerializer, Immutable, Alias("qwen.ConversationMessage")]
public sealed record ConversationMessage(string Role, string Content)
{
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string System = "system";

    /// <summary>A stored user message's sentiment, when its turn asked for it (history only; ignored in requests).</summary>
    [Id(0)]
    public MessageSentiment? Sentiment { get; init; }
}

/// <param name="Messages">An array, not an interface: grain calls serialize the concrete type.</param>
[GenerateSerializer, Immutable, Alias("qwen.ConversationHistory")]
public sealed record ConversationHistory(string UserId, ConversationMessage[] Messages, long Version);

/// <summary>What input truncation removed to fit the budget.</summary>
[GenerateSerializer, Immutable, Alias("qwen.PromptTruncationInfo")]
public sealed record PromptTruncationInfo(int DroppedTurns, int DroppedTokens)
{
    public static PromptTruncationInfo None { get; } = new(0, 0);
    public bool Truncated => DroppedTurns > 0 || DroppedTokens > 0;
}

/// <summary>
/// Why a reply was made shorter than asked: under a backlog the worker caps chat replies at
/// <paramref name="MaxTokens"/> new tokens so the queue drains faster.
/// </summary>
[GenerateSerializer, Immutable, Alias("qwen.ReplyDegradation")]
public sealed record ReplyDegradation(string Reason, int MaxTokens)
{
    public const string Backlog = "backlog";
}
