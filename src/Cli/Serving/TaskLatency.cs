using System.Text.Json.Serialization;
using Qwen.Cli.Measurement;

namespace Qwen.Cli.Serving;

/// <summary>
/// One task's latencies at one level, over its successful requests: sentiment and chat have different
/// goals (a sentiment answer within a second; a chat reply's tail against its median), so each is reported alone.
/// </summary>
internal sealed record TaskLatency(
    [property: JsonPropertyName("requests")] int Requests,
    [property: JsonPropertyName("p50_ms")] double? P50Ms,
    [property: JsonPropertyName("p90_ms")] double? P90Ms,
    [property: JsonPropertyName("p99_ms")] double? P99Ms,
    [property: JsonPropertyName("ttft_p50_ms")] double? TtftP50Ms)
{
    /// <summary>Keyed by task name in lower case (<c>sentiment</c>, <c>chat</c>); a task with no request is left out.</summary>
    public static IReadOnlyDictionary<string, TaskLatency> ByTask(IEnumerable<RequestSample> succeeded) =>
        succeeded.GroupBy(s => s.Task).OrderBy(g => g.Key).ToDictionary(
            g => g.Key.ToString().ToLowerInvariant(),
            g =>
            {
                var latencies = g.Select(s => s.LatencyMs).ToArray();
                var firstTokens = g.Where(s => s.FirstTokenMs is not null).Select(s => s.FirstTokenMs!.Value).ToArray();
                return new TaskLatency(latencies.Length, Percentiles.Of(latencies, 50), Percentiles.Of(latencies, 90),
                    Percentiles.Of(latencies, 99), Percentiles.Of(firstTokens, 50));
            },
            StringComparer.Ordinal);
}
