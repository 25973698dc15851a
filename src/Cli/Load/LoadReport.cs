using System.Text.Json.Serialization;
using Qwen.Cli.Measurement;
using Qwen.Cli.Workload;

namespace Qwen.Cli.Load;

/// <summary>One concurrency level of an HTTP load test.</summary>
internal sealed record LoadRow(
    [property: JsonPropertyName("concurrency")] int Concurrency,
    [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds,
    [property: JsonPropertyName("requests")] int Requests,
    [property: JsonPropertyName("succeeded")] int Succeeded,
    [property: JsonPropertyName("errors")] int Errors,
    [property: JsonPropertyName("error_rate")] double ErrorRate,
    [property: JsonPropertyName("errors_by_status")] IReadOnlyDictionary<string, int> ErrorsByStatus,
    [property: JsonPropertyName("throughput_rps")] double ThroughputRps,
    [property: JsonPropertyName("p50_ms")] double? P50Ms,
    [property: JsonPropertyName("p90_ms")] double? P90Ms,
    [property: JsonPropertyName("p99_ms")] double? P99Ms,
    [property: JsonPropertyName("sentiment_requests")] int SentimentRequests,
    [property: JsonPropertyName("sentiment_p50_ms")] double? SentimentP50Ms,
    [property: JsonPropertyName("chat_requests")] int ChatRequests,
    [property: JsonPropertyName("chat_p50_ms")] double? ChatP50Ms,
    [property: JsonPropertyName("server_rss_mb")] double? ServerRssMb,
    [property: JsonPropertyName("server_peak_rss_mb")] double? ServerPeakRssMb,
    [property: JsonPropertyName("error_samples")] IReadOnlyList<string> ErrorSamples)
{
    private const int MaxErrorSamples = 5;

    /// <summary>Latencies and throughput over successful requests; the error rate over all of them.</summary>
    public static LoadRow From(int concurrency, IReadOnlyCollection<LoadSample> samples, TimeSpan elapsed, double? rssEnd, double? rssPeak)
    {
        var ok = samples.Where(s => s.Succeeded).ToArray();
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        var latencies = ok.Select(s => s.LatencyMs).ToArray();
        var sentiment = ok.Where(s => s.Task == WorkloadTask.Sentiment).Select(s => s.LatencyMs).ToArray();
        var chat = ok.Where(s => s.Task == WorkloadTask.Chat).Select(s => s.LatencyMs).ToArray();
        int errors = samples.Count - ok.Length;
        return new LoadRow(concurrency, seconds, samples.Count, ok.Length, errors, samples.Count == 0 ? 0 : (double)errors / samples.Count,
            samples.Where(s => !s.Succeeded).GroupBy(s => s.Error!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            ok.Length / seconds, Percentiles.Of(latencies, 50), Percentiles.Of(latencies, 90), Percentiles.Of(latencies, 99),
            sentiment.Length, Percentiles.Of(sentiment, 50), chat.Length, Percentiles.Of(chat, 50), rssEnd, rssPeak,
            // What the first few distinct failures said, so a failed run shows why without the server's logs.
            [.. samples.Where(s => !s.Succeeded).Select(s => s.ErrorBody is { } body ? $"{s.Error}: {body}" : s.Error!).Distinct(StringComparer.Ordinal)
                .Take(MaxErrorSamples)]);
    }
}

/// <summary>The whole HTTP load test.</summary>
internal sealed record LoadReport(
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("duration_per_level_s")] double DurationPerLevelSeconds,
    [property: JsonPropertyName("mix")] string Mix,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("rss_metric")] string? RssMetric,
    [property: JsonPropertyName("rows")] IReadOnlyList<LoadRow> Rows);
