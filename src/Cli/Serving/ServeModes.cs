using Qwen.Grains;

namespace Qwen.Cli.Serving;

/// <summary>The two worker configurations bench-serve compares.</summary>
internal static class ServeModes
{
    /// <summary>One request per model call, no caching: the baseline.</summary>
    public const string Sequential = "sequential";

    /// <summary>The worker's defaults: continuous batching and everything that comes with it.</summary>
    public const string Batched = "batched";

    public static IReadOnlyList<string> All { get; } = [Sequential, Batched];

    public static InferenceWorkerOptions Options(string mode) => mode switch
    {
        Sequential => new InferenceWorkerOptions { Scheduling = InferenceScheduling.Sequential },
        Batched => new InferenceWorkerOptions(),
        _ => throw new ArgumentException($"unknown mode '{mode}' (modes: {Sequential}, {Batched})"),
    };

    /// <summary>What the configuration is, for the report.</summary>
    public static string Describe(string mode)
    {
        var o = Options(mode);
        return mode == Sequential
            ? $"Scheduling=Sequential, MaxConcurrentRequests={o.MaxConcurrentRequests}"
            : $"Scheduling=Batched, MaxBatchSize={o.MaxBatchSize}, MaxPrefillTokensPerStep={o.MaxPrefillTokensPerStep}, KvBudgetTokens={o.KvBudgetTokens}";
    }
}
