namespace Qwen.Grains.Interfaces;

/// <param name="Deadline">When the caller stops waiting; past it the request leaves the queue or batch
/// and fails as <see cref="GrainErrorKind.Timeout"/>.</param>
public sealed record SentimentRequest(string Text, DateTimeOffset? Deadline = null);

/// <param name="Label">positive or negative.</param>
/// <param name="Score">The label's probability.</param>
public sealed record SentimentResult(string Label, double Score, PromptTruncationInfo Truncation, string SiloId);

/// <summary>The conversation to continue (no system message: the worker adds the configured one).</summary>
/// <param name="Deadline">When the caller stops waiting; past it generation stops and the call fails as <see cref="GrainErrorKind.Timeout"/>.</param>
public sealed record ChatGenerationRequest(IReadOnlyList<ConversationMessage> Messages, int? MaxNewTokens = null, float? Temperature = null,
    DateTimeOffset? Deadline = null);

/// <summary>A text delta while generating, or (last) the final accounting.</summary>
public sealed record GenerationEvent(string? TextDelta, GenerationSummary? Summary);

/// <param name="Degraded">Set when the reply was capped below what was asked because of a backlog.</param>
public sealed record GenerationSummary(string Text, int PromptTokens, int CompletionTokens, string FinishReason, PromptTruncationInfo Truncation,
    string SiloId, ReplyDegradation? Degraded = null);
