using Qwen.Inference.Generation;

namespace Qwen.Grains;

/// <summary>The silo's inference worker: configuration section <c>Inference</c>.</summary>
public sealed record InferenceWorkerOptions
{
    public const string SectionName = "Inference";

    /// <summary>Model requests running at once; each uses the session's intra-op threads.</summary>
    public int MaxConcurrentRequests { get; init; } = 2;

    /// <summary>Requests waiting for a slot; one more is refused as overloaded so the caller can go elsewhere.</summary>
    public int MaxQueueLength { get; init; } = 64;

    /// <summary>Reply length when a request does not say.</summary>
    public int DefaultMaxNewTokens { get; init; } = 64;

    /// <summary>Largest reply length a request may ask for.</summary>
    public int MaxNewTokensLimit { get; init; } = 512;

    /// <summary>Most tokens of prompt plus reply; capped by the model session's own window.</summary>
    public int ContextWindow { get; init; } = 1024;

    /// <summary>Longest sentiment text accepted (the prompt then keeps its last clauses within the token budget).</summary>
    public int MaxSentimentTextChars { get; init; } = 16_000;

    public InferenceWorkerOptions Validate()
    {
        Require(MaxConcurrentRequests >= 1, $"MaxConcurrentRequests must be at least 1 but was {MaxConcurrentRequests}");
        Require(MaxQueueLength >= 0, $"MaxQueueLength must be at least 0 but was {MaxQueueLength}");
        Require(MaxNewTokensLimit is >= 1 and <= GenerationOptions.MaxNewTokensLimit,
            $"MaxNewTokensLimit must be in [1, {GenerationOptions.MaxNewTokensLimit}] but was {MaxNewTokensLimit}");
        Require(DefaultMaxNewTokens >= 1 && DefaultMaxNewTokens <= MaxNewTokensLimit,
            $"DefaultMaxNewTokens must be in [1, MaxNewTokensLimit = {MaxNewTokensLimit}] but was {DefaultMaxNewTokens}");
        Require(ContextWindow > MaxNewTokensLimit,
            $"ContextWindow ({ContextWindow}) must be larger than MaxNewTokensLimit ({MaxNewTokensLimit}) to leave room for a prompt");
        Require(MaxSentimentTextChars >= 1, $"MaxSentimentTextChars must be at least 1 but was {MaxSentimentTextChars}");
        return this;
    }

    private static void Require(bool ok, string rule)
    {
        if (!ok) throw new ArgumentException($"{SectionName}: {rule}");
    }
}
