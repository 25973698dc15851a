using System.Text.Json.Serialization;

namespace Qwen.Api.Contracts;

// Shapes of /v1/conversations, serialized in snake_case.

/// <summary>
/// A user message; <c>stream: true</c> answers with server-sent events; <c>sentiment: true</c> also
/// judges the message's sentiment from the reply's own prompt (answered first when streamed).
/// </summary>
public sealed record ConversationMessageRequest(string Content, int? MaxTokens, double? Temperature, double? TopP, long? Seed,
    IReadOnlyList<string>? Stop, bool? Stream, bool? Sentiment);

/// <summary>The sentiment of a user message: <c>positive</c> or <c>negative</c>, and that label's probability.</summary>
public sealed record MessageSentimentInfo(string Label, double Score);

public sealed record TokenUsage(int PromptTokens, int CompletionTokens);

public sealed record ConversationReply(
    string UserId,
    string Reply,
    int Turn,
    string TurnId,
    string FinishReason,
    TokenUsage Usage,
    bool Truncated,
    int DroppedTurns,
    string Silo,
    string RequestId,
    long LatencyMs,
    ReplyDegradationInfo? Degraded,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] MessageSentimentInfo? Sentiment = null);

/// <summary>Set when the reply was capped under backlog: <c>{"reason": "backlog", "max_tokens": N}</c>; null otherwise.</summary>
public sealed record ReplyDegradationInfo(string Reason, int MaxTokens);

/// <summary>A stored message; a user message whose turn asked for it carries its sentiment.</summary>
public sealed record ConversationHistoryMessage(
    string Role,
    string Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] MessageSentimentInfo? Sentiment = null);

public sealed record ConversationHistoryResponse(string UserId, IReadOnlyList<ConversationHistoryMessage> Messages);

/// <summary>
/// One server-sent event of a streamed reply: first a "sentiment" when asked, then text deltas,
/// then one "done" with the reply, or an "error".
/// </summary>
public sealed record ConversationStreamEvent(
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ConversationReply? Reply = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Status = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] MessageSentimentInfo? Sentiment = null);
