using Qwen.Grains;

namespace Qwen.Cli.Serving;

/// <summary>The worker configurations bench-serve compares.</summary>
internal static class ServeModes
{
    /// <summary>One request per model call, no caching: the baseline.</summary>
    public const string Sequential = "sequential";

    /// <summary>The worker's defaults: continuous batching and everything that comes with it.</summary>
    public const string Batched = "batched";

    /// <summary>Batched, and a finished reply's KV kept for the conversation's next turn (<c>Inference:ReuseReplyKv</c>).</summary>
    public const string BatchedReuse = "batched-reuse";

    /// <summary>
    /// Batched with memory held to what is in use: KV slots give back the pages of positions they give up
    /// (<c>Inference:ReturnFreedKvPages</c>) and the prefix cache keeps 512 positions (<c>Inference:PrefixCacheTokens</c>).
    /// </summary>
    public const string BatchedLean = "batched-lean";

    /// <summary>What <c>--modes</c> measures unless told.</summary>
    public static IReadOnlyList<string> Default { get; } = [Sequential, Batched];

    /// <summary>Every configuration, in the order a run measures them.</summary>
    public static IReadOnlyList<string> All { get; } = [Sequential, Batched, BatchedReuse, BatchedLean];

    /// <summary>"sequential,batched" in the canonical order, each once.</summary>
    /// <exception cref="FormatException">Empty, or an unknown configuration.</exception>
    public static IReadOnlyList<string> Parse(string text, string optionName)
    {
        var given = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => m.ToLowerInvariant()).ToArray();
        if (given.FirstOrDefault(m => !All.Contains(m)) is { } unknown)
            throw new FormatException($"{optionName}: unknown configuration '{unknown}' (configurations: {string.Join(", ", All)})");
        return given.Length > 0 ? All.Where(given.Contains).ToArray() : throw new FormatException($"{optionName}: name at least one configuration");
    }

    public static InferenceWorkerOptions Options(string mode) => mode switch
    {
        // The baseline: one request per model call and no prefix cache.
        Sequential => new InferenceWorkerOptions { Scheduling = InferenceScheduling.Sequential, PrefixCache = false },
        Batched => new InferenceWorkerOptions(),
        BatchedReuse => new InferenceWorkerOptions { ReuseReplyKv = true },
        BatchedLean => new InferenceWorkerOptions { ReturnFreedKvPages = true, PrefixCacheTokens = LeanPrefixCacheTokens },
        _ => throw new ArgumentException($"unknown mode '{mode}' (modes: {string.Join(", ", All)})"),
    };

    private const int LeanPrefixCacheTokens = 512;

    /// <summary>What the configuration is, for the report.</summary>
    public static string Describe(string mode)
    {
        var o = Options(mode);
        return mode == Sequential
            ? $"Scheduling=Sequential, MaxConcurrentRequests={o.MaxConcurrentRequests}, PrefixCache=off"
            : $"Scheduling=Batched, MaxBatchSize={o.MaxBatchSize}, MaxPrefillTokensPerStep={o.MaxPrefillTokensPerStep}, KvBudgetTokens={o.KvBudgetTokens}, PrefixCache={o.PrefixCacheTokens} tokens, ReuseReplyKv={o.ReuseReplyKv}, ReturnFreedKvPages={o.ReturnFreedKvPages}";
    }
}
