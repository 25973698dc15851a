namespace Qwen.Inference.Batching;

/// <summary>
/// Limits of the continuous-batching engine: configuration section <c>Batching</c>. The
/// defaults suit a 2-core machine serving a 0.5B model.
/// </summary>
public sealed record BatchingOptions
{
    public const string SectionName = "Batching";

    /// <summary>Sequences decoding together in one model step (and rows in one prefill step).</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>
    /// Prompt positions (padding included) one prefill step may compute, so a burst of new
    /// requests stalls the running decodes for a bounded time. A longer prompt is prefilled
    /// alone, in chunks of this size.
    /// </summary>
    public int MaxPrefillTokensPerStep { get; init; } = 256;

    /// <summary>
    /// KV positions the running requests may hold. Batch KV is rectangular (left padding), so
    /// the running set costs its size times its longest reservation (prompt plus max new
    /// tokens, or prompt plus longest label). A request that alone exceeds it is refused.
    /// </summary>
    public int KvBudgetTokens { get; init; } = 16 * 1024;

    /// <summary>
    /// Requests waiting to start (a new request waits at least until the next step); one more is
    /// refused with <see cref="EngineOverloadedException"/>.
    /// </summary>
    public int MaxQueueLength { get; init; } = 64;

    /// <summary>
    /// Keep prompt KV for reuse by later prompts that start with the same tokens (system
    /// prompts, the next turn of a conversation). Models with the shared-buffer KV layout only;
    /// it never changes an answer.
    /// </summary>
    public bool PrefixCache { get; init; } = true;

    /// <summary>
    /// Positions the prefix cache keeps (blocks of 16 tokens), pinned prefixes included; the
    /// least recently used unpinned blocks leave first. Each position costs
    /// 2 × layers × kv_heads × head_dim × 4 bytes (192 KiB for Qwen1.5-0.5B).
    /// </summary>
    public int PrefixCacheTokens { get; init; } = 2048;

    /// <summary>
    /// Also keep a finished reply's KV in the prefix cache, so a conversation's next turn
    /// prefills only its new message instead of recomputing the previous reply. Off by default:
    /// reply positions were computed by one-token decode steps, whose kernel differs in the last
    /// bits from a prompt chunk's, so a next turn that finds them can differ from the same turn
    /// computed without them (on another silo, after eviction) wherever its two best tokens
    /// are nearly tied. Needs <see cref="PrefixCache"/>.
    /// </summary>
    public bool ReuseReplyKv { get; init; }

    /// <summary>
    /// Positions each KV slot holds at least (shared-buffer models): room for an ordinary chat
    /// turn, so the buffer is not reallocated as requests of slightly different lengths come and
    /// go. Untouched positions cost address space, not memory.
    /// </summary>
    public int KvSlotMinCapacity { get; init; } = 512;

    /// <summary>
    /// KV slots (shared-buffer models) return the pages of positions they give up at once, so
    /// resident KV follows the positions in use. Off by default: refilling a slot faults fresh
    /// pages in, which cost about a quarter of the served tokens/s at 16 clients for ~8 % less peak RSS.
    /// </summary>
    public bool ReturnFreedKvPages { get; init; }

    /// <summary>How long the engine stays idle before it gives its KV buffers back.</summary>
    public TimeSpan KvIdleRelease { get; init; } = TimeSpan.FromSeconds(2);

    public BatchingOptions Validate()
    {
        Require(MaxBatchSize >= 1, $"MaxBatchSize must be at least 1 but was {MaxBatchSize}");
        Require(MaxPrefillTokensPerStep >= 1, $"MaxPrefillTokensPerStep must be at least 1 but was {MaxPrefillTokensPerStep}");
        Require(KvBudgetTokens >= 1, $"KvBudgetTokens must be at least 1 but was {KvBudgetTokens}");
        Require(MaxQueueLength >= 1, $"MaxQueueLength must be at least 1 but was {MaxQueueLength}");
        Require(KvSlotMinCapacity >= 2, $"KvSlotMinCapacity must be at least 2 but was {KvSlotMinCapacity}");
        Require(KvIdleRelease >= TimeSpan.Zero, $"KvIdleRelease must not be negative but was {KvIdleRelease}");
        Require(PrefixCacheTokens >= 0, $"PrefixCacheTokens must not be negative but was {PrefixCacheTokens}");
        return this;
    }

    private static void Require(bool ok, string rule)
    {
        if (!ok) throw new ArgumentException($"{SectionName}: {rule}");
    }
}
