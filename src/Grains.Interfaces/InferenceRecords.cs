namespace Qwen.Grains.Interfaces;

[GenerateSerializer, Immutable, Alias("qwen.SentimentRequest")]
public sealed record SentimentRequest(string Text)
{
    /// <summary>When the caller stops waiting; past it the request leaves the queue or batch and fails as <see cref="GrainErrorKind.Timeout"/>.</summary>
    [Id(0)]
    public DateTimeOffset? Deadline { get; init; }
}

/// <param name="Label">positive or negative.</param>
/// <param name="Score">The label's probability.</param>
[GenerateSerializer, Immutable, Alias("qwen.SentimentResult")]
public sealed record SentimentResult(string Label, double Score, PromptTruncationInfo Truncation, string SiloId);

/// <summary>
/// The conversation to continue (user and assistant messages; the worker adds the configured
/// system message unless <paramref name="SystemMessage"/> replaces it for this request).
/// </summary>
[GenerateSerializer, Immutable, Alias("qwen.ChatGenerationRequest")]
public sealed record ChatGenerationRequest(ConversationMessage[] Messages, int? MaxNewTokens = null, float? Temperature = null)
{
    /// <summary>Sampling beyond the temperature, and text stop sequences.</summary>
    [Id(0)]
    public SamplingParameters? Sampling { get; init; }

    /// <summary>Replaces the configured system message for this request.</summary>
    [Id(1)]
    public string? SystemMessage { get; init; }

    /// <summary>When the caller stops waiting; past it generation stops and the call fails as <see cref="GrainErrorKind.Timeout"/>.</summary>
    [Id(2)]
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>
    /// Also judge the sentiment of the last user message, from the reply's own prompt (its KV is
    /// shared): the first event is then the sentiment, before any of the reply.
    /// </summary>
    [Id(3)]
    public bool Sentiment { get; init; }
}

/// <summary>The sentiment of one user message: positive or negative, and the label's probability.</summary>
[GenerateSerializer, Immutable, Alias("qwen.MessageSentiment")]
public sealed record MessageSentiment(string Label, double Score);

/// <summary>
/// Optional decoding settings of a chat request. <paramref name="TopP"/> and <paramref name="Seed"/>
/// matter only when sampling (a temperature above 0); <paramref name="Stop"/> ends the reply before
/// the first occurrence of any of its strings.
/// </summary>
[GenerateSerializer, Immutable, Alias("qwen.SamplingParameters")]
public sealed record SamplingParameters(float? TopP = null, ulong? Seed = null, string[]? Stop = null)
{
    /// <summary>Most stop sequences a request may give (as OpenAI).</summary>
    public const int MaxStopSequences = 4;

    /// <summary>Longest stop sequence, in characters.</summary>
    public const int MaxStopChars = 64;
}

/// <summary>A text delta while generating, or (last) the final accounting; with a sentiment asked, first the sentiment alone.</summary>
[GenerateSerializer, Immutable, Alias("qwen.GenerationEvent")]
public sealed record GenerationEvent(string? TextDelta, GenerationSummary? Summary)
{
    /// <summary>The user message's sentiment (the first event of a request that asked for it; null otherwise).</summary>
    [Id(0)]
    public MessageSentiment? Sentiment { get; init; }
}

/// <param name="Degraded">Set when the reply was capped below what was asked because of a backlog.</param>
[GenerateSerializer, Immutable, Alias("qwen.GenerationSummary")]
public sealed record GenerationSummary(string Text, int PromptTokens, int CompletionTokens, string FinishReason, PromptTruncationInfo Truncation,
    string SiloId, ReplyDegradation? Degraded = null)
{
    /// <summary>The last user message's sentiment, when the request asked for it.</summary>
    [Id(0)]
    public MessageSentiment? Sentiment { get; init; }
}
