using System.Text.Json.Serialization;
using Qwen.Cli.Measurement;
using Qwen.Cli.Workload;

namespace Qwen.Cli.Serving;

/// <summary>One configuration at one concurrency level: what the clients measured.</summary>
internal sealed record ServeRow(
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("concurrency")] int Concurrency,
    [property: JsonPropertyName("requests")] int Requests,
    [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds,
    [property: JsonPropertyName("throughput_rps")] double ThroughputRps,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("generated_tokens")] long GeneratedTokens,
    [property: JsonPropertyName("p50_ms")] double? P50Ms,
    [property: JsonPropertyName("p90_ms")] double? P90Ms,
    [property: JsonPropertyName("p99_ms")] double? P99Ms,
    [property: JsonPropertyName("ttft_p50_ms")] double? TtftP50Ms,
    [property: JsonPropertyName("sentiment_requests")] int SentimentRequests,
    [property: JsonPropertyName("sentiment_p50_ms")] double? SentimentP50Ms,
    [property: JsonPropertyName("chat_requests")] int ChatRequests,
    [property: JsonPropertyName("chat_p50_ms")] double? ChatP50Ms,
    [property: JsonPropertyName("errors")] int Errors,
    [property: JsonPropertyName("errors_by_kind")] IReadOnlyDictionary<string, int> ErrorsByKind,
    [property: JsonPropertyName("peak_rss_mb")] double? PeakRssMb,
    [property: JsonPropertyName("by_task")] IReadOnlyDictionary<string, TaskLatency> ByTask)
{
    /// <summary>The engine's own decode rate at a batch of <see cref="Concurrency"/> rows, measured in the same run after the level.</summary>
    [JsonPropertyName("engine_decode_tokens_per_s")]
    public double? EngineDecodeTokensPerSecond { get; init; }

    /// <summary>Prompt positions the engine computed per request (prefix-cache hits excluded; null where the configuration reports no steps).</summary>
    [JsonPropertyName("prefill_tokens_per_request")]
    public double? PrefillTokensPerRequest { get; init; }

    /// <summary>The share of the engine's step time spent in prefill calls of their own.</summary>
    [JsonPropertyName("prefill_share")]
    public double? PrefillShare { get; init; }

    /// <summary>The share of prompt positions computed beside the decode rows, in the lanes of decode calls (0 without prompt lanes).</summary>
    [JsonPropertyName("prefill_in_decode_calls")]
    public double? PrefillInDecodeCalls { get; init; }

    /// <summary>Mean rows of the decode steps.</summary>
    [JsonPropertyName("mean_decode_rows")]
    public double? MeanDecodeRows { get; init; }

    /// <summary>Mean wall time of a step's decode part, in milliseconds.</summary>
    [JsonPropertyName("decode_ms_per_step")]
    public double? DecodeMsPerStep { get; init; }

    /// <summary>Served tokens/s over <see cref="EngineDecodeTokensPerSecond"/>: how much of the engine's batched speed reaches the clients.</summary>
    [JsonPropertyName("efficiency")]
    public double? Efficiency => EngineDecodeTokensPerSecond is > 0 and { } rate ? TokensPerSecond / rate : null;

    /// <summary>Mean KV positions a decode row attended over during the level (KV slots only).</summary>
    [JsonPropertyName("mean_decode_context")]
    public double? MeanDecodeContext { get; init; }

    /// <summary>
    /// The engine's decode rate at a batch of <see cref="Concurrency"/> rows that each attend over
    /// <see cref="MeanDecodeContext"/> positions: the rate at the contexts this level served.
    /// </summary>
    [JsonPropertyName("engine_decode_tokens_per_s_at_served_context")]
    public double? EngineDecodeTokensPerSecondAtServedContext { get; init; }

    /// <summary>Served tokens/s over <see cref="EngineDecodeTokensPerSecondAtServedContext"/>: what scheduling and prefill cost, context length aside.</summary>
    [JsonPropertyName("efficiency_at_served_context")]
    public double? EfficiencyAtServedContext =>
        EngineDecodeTokensPerSecondAtServedContext is > 0 and { } rate ? TokensPerSecond / rate : null;

    /// <summary>Latencies over successful requests; throughput counts successful requests over the phase's wall time.</summary>
    public static ServeRow From(string mode, int concurrency, IReadOnlyCollection<RequestSample> samples, TimeSpan elapsed, double peakRssMb)
    {
        var ok = samples.Where(s => s.Succeeded).ToArray();
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        long tokens = ok.Sum(s => (long)s.GeneratedTokens);
        var latencies = ok.Select(s => s.LatencyMs).ToArray();
        var sentiment = ok.Where(s => s.Task == WorkloadTask.Sentiment).Select(s => s.LatencyMs).ToArray();
        var chat = ok.Where(s => s.Task == WorkloadTask.Chat).ToArray();
        var firstTokens = chat.Where(s => s.FirstTokenMs is not null).Select(s => s.FirstTokenMs!.Value).ToArray();
        return new ServeRow(mode, concurrency, samples.Count, seconds, ok.Length / seconds, tokens / seconds, tokens,
            Percentiles.Of(latencies, 50), Percentiles.Of(latencies, 90), Percentiles.Of(latencies, 99), Percentiles.Of(firstTokens, 50),
            sentiment.Length, Percentiles.Of(sentiment, 50), chat.Length, Percentiles.Of(chat.Select(s => s.LatencyMs).ToArray(), 50),
            samples.Count - ok.Length,
            samples.Where(s => !s.Succeeded).GroupBy(s => s.Error!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            double.IsFinite(peakRssMb) ? peakRssMb : null,
            TaskLatency.ByTask(ok));
    }
}

/// <summary>Batched over sequential at one level (above 1 means batched is higher).</summary>
internal sealed record ServeRatio(
    [property: JsonPropertyName("concurrency")] int Concurrency,
    [property: JsonPropertyName("throughput_ratio")] double? ThroughputRatio,
    [property: JsonPropertyName("tokens_per_s_ratio")] double? TokensPerSecondRatio,
    [property: JsonPropertyName("p50_ratio")] double? P50Ratio,
    [property: JsonPropertyName("p99_ratio")] double? P99Ratio,
    [property: JsonPropertyName("ttft_p50_ratio")] double? TtftP50Ratio)
{
    public static IReadOnlyList<ServeRatio> Of(IReadOnlyList<ServeRow> rows) =>
        rows.Where(r => r.Mode == ServeModes.Batched)
            .Select(b => (Batched: b, Sequential: rows.FirstOrDefault(s => s.Mode == ServeModes.Sequential && s.Concurrency == b.Concurrency)))
            .Where(p => p.Sequential is not null)
            .Select(p => new ServeRatio(p.Batched.Concurrency,
                Ratio(p.Batched.ThroughputRps, p.Sequential!.ThroughputRps),
                Ratio(p.Batched.TokensPerSecond, p.Sequential.TokensPerSecond),
                Ratio(p.Batched.P50Ms, p.Sequential.P50Ms),
                Ratio(p.Batched.P99Ms, p.Sequential.P99Ms),
                Ratio(p.Batched.TtftP50Ms, p.Sequential.TtftP50Ms)))
            .ToArray();

    private static double? Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? x / y : null;
}

/// <summary>The whole bench-serve run.</summary>
internal sealed record ServeReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("threads")] int Threads,
    [property: JsonPropertyName("requests_per_level")] int RequestsPerLevel,
    [property: JsonPropertyName("max_new_tokens")] int MaxNewTokens,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("mix")] string Mix,
    [property: JsonPropertyName("configurations")] IReadOnlyDictionary<string, string> Configurations,
    [property: JsonPropertyName("rows")] IReadOnlyList<ServeRow> Rows,
    [property: JsonPropertyName("ratios")] IReadOnlyList<ServeRatio> Ratios);
