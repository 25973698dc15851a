namespace Qwen.Grains.Interfaces;

public sealed record SentimentRequest(string Text);

/// <param name="Label">positive or negative.</param>
/// <param name="Score">The label's probability.</param>
public sealed record SentimentResult(string Label, double Score, PromptTruncationInfo Truncation, string SiloId);

/// <summary>The conversation to continue (no system message: the worker adds the configured one).</summary>
public sealed record ChatGenerationRequest(IReadOnlyList<ConversationMessage> Messages, int? MaxNewTokens = null, float? Temperature = null);

/// <summary>A text delta while generating, or (last) the final accounting.</summary>
public sealed record GenerationEvent(string? TextDelta, GenerationSummary? Summary);

public sealed record GenerationSummary(string Text, int PromptTokens, int CompletionTokens, string FinishReason, PromptTruncationInfo Truncation, string SiloId);
