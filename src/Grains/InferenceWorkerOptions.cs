using Qwen.Inference.Batching;
using Qwen.Inference.Generation;

namespace Qwen.Grains;

/// <summary>The silo's inference worker: configuration section <c>Inference</c>.</summary>
public sealed record InferenceWorkerOptions
{
    public const string SectionName = "Inference";

    /// <summary>How model calls run: continuously batched, or one request per model call (the baseline).</summary>
    public InferenceScheduling Scheduling { get; init; } = InferenceScheduling.Batched;

    /// <summary>Sequential scheduling: model requests running at once; each uses the session's intra-op threads.</summary>
    public int MaxConcurrentRequests { get; init; } = 2;

    /// <summary>
    /// Requests waiting for a slot; one more is refused as overloaded so the caller can go
    /// elsewhere. Batched scheduling waits at least one request (until the engine's next step).
    /// </summary>
    public int MaxQueueLength { get; init; } = 64;

    /// <summary>Batched scheduling: sequences decoding together in one model step.</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>Batched scheduling: prompt positions one prefill step may compute, so new requests stall running replies only briefly.</summary>
    public int MaxPrefillTokensPerStep { get; init; } = 256;

    /// <summary>Batched scheduling: KV positions the running requests may reserve (at least the context window).</summary>
    public int KvBudgetTokens { get; init; } = 16 * 1024;

    /// <summary>
    /// Batched scheduling: keep prompt KV for prompts that start the same way (the fixed system
    /// prompts, pinned; a conversation's next turn). Shared-buffer models only; never changes an answer.
    /// </summary>
    public bool PrefixCache { get; init; } = true;

    /// <summary>Batched scheduling: positions the prefix cache keeps (least recently used leave first).</summary>
    public int PrefixCacheTokens { get; init; } = 2048;

    /// <summary>
    /// Batched scheduling: keep a finished reply's KV too, so the next turn skips recomputing it. Off by
    /// default: a turn that finds it may then differ, at near ties only, from the same turn computed
    /// elsewhere (see docs/batching.md).
    /// </summary>
    public bool ReuseReplyKv { get; init; }

    /// <summary>Batched scheduling: KV slots return freed pages at once (less resident memory, less throughput; see docs/batching.md).</summary>
    public bool ReturnFreedKvPages { get; init; }

    /// <summary>Reply length when a request does not say.</summary>
    public int DefaultMaxNewTokens { get; init; } = 64;

    /// <summary>Largest reply length a request may ask for.</summary>
    public int MaxNewTokensLimit { get; init; } = 512;

    /// <summary>Most tokens of prompt plus reply; capped by the model session's own window.</summary>
    public int ContextWindow { get; init; } = 1024;

    /// <summary>Longest sentiment text accepted (the prompt then keeps its last clauses within the token budget).</summary>
    public int MaxSentimentTextChars { get; init; } = 16_000;

    /// <summary>Shorter chat replies while the backlog is high (section <c>Inference:Degradation</c>).</summary>
    public DegradationOptions Degradation { get; init; } = new();

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
        Require(MaxBatchSize >= 1, $"MaxBatchSize must be at least 1 but was {MaxBatchSize}");
        Require(MaxPrefillTokensPerStep >= 1, $"MaxPrefillTokensPerStep must be at least 1 but was {MaxPrefillTokensPerStep}");
        Require(PrefixCacheTokens >= 0, $"PrefixCacheTokens must not be negative but was {PrefixCacheTokens}");
        Require(KvBudgetTokens >= ContextWindow,
            $"KvBudgetTokens ({KvBudgetTokens}) must be at least the ContextWindow ({ContextWindow}) so that every accepted request fits");
        Require(Degradation is not null, "Degradation must not be null");
        Require(Degradation!.BacklogThreshold >= 0, $"Degradation:BacklogThreshold must be at least 0 but was {Degradation.BacklogThreshold}");
        Require(Degradation.CappedMaxNewTokens >= 1, $"Degradation:CappedMaxNewTokens must be at least 1 but was {Degradation.CappedMaxNewTokens}");
        return this;
    }

    /// <summary>The batching engine's limits.</summary>
    public BatchingOptions ToBatchingOptions() => new()
    {
        MaxBatchSize = MaxBatchSize,
        MaxPrefillTokensPerStep = MaxPrefillTokensPerStep,
        KvBudgetTokens = KvBudgetTokens,
        MaxQueueLength = Math.Max(1, MaxQueueLength),
        PrefixCache = PrefixCache,
        PrefixCacheTokens = PrefixCacheTokens,
        ReuseReplyKv = ReuseReplyKv,
        ReturnFreedKvPages = ReturnFreedKvPages,
    };

    private static void Require(bool ok, string rule)
    {
        if (!ok) throw new ArgumentException($"{SectionName}: {rule}");
    }
}
