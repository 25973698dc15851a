using System.Text.Json.Serialization;
using Qwen.Cli.Measurement;

namespace Qwen.Cli.Serving;

/// <summary>One kind of turn at one concurrency level: the engine's prefill work per turn and what the clients measured.</summary>
internal sealed record TurnCostRow(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("concurrency")] int Concurrency,
    [property: JsonPropertyName("turns")] int Turns,
    [property: JsonPropertyName("errors")] int Errors,
    [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds,
    [property: JsonPropertyName("turns_per_s")] double TurnsPerSecond,
    [property: JsonPropertyName("prefill_tokens")] long PrefillTokens,
    [property: JsonPropertyName("prefill_tokens_per_turn")] double PrefillTokensPerTurn,
    [property: JsonPropertyName("prefill_ms_per_turn")] double PrefillMsPerTurn,
    [property: JsonPropertyName("generated_tokens")] long GeneratedTokens,
    [property: JsonPropertyName("p50_ms")] double? P50Ms,
    [property: JsonPropertyName("sentiment_p50_ms")] double? SentimentP50Ms,
    [property: JsonPropertyName("ttft_p50_ms")] double? TtftP50Ms)
{
    /// <summary>
    /// Prefill figures are the engine's (positions computed, prefix-cache hits not counted; time of the steps' prefill part)
    /// per successful turn.
    /// </summary>
    public static TurnCostRow From(string kind, int concurrency, IReadOnlyCollection<TurnSample> samples, TimeSpan elapsed, long prefillTokens,
        TimeSpan prefillTime)
    {
        var ok = samples.Where(s => s.Succeeded).ToArray();
        int turns = Math.Max(ok.Length, 1);
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        return new TurnCostRow(kind, concurrency, samples.Count, samples.Count - ok.Length, seconds, ok.Length / seconds, prefillTokens,
            (double)prefillTokens / turns, prefillTime.TotalMilliseconds / turns, ok.Sum(s => (long)s.GeneratedTokens),
            Percentiles.Of(ok.Select(s => s.LatencyMs).ToArray(), 50),
            Percentiles.Of(ok.Where(s => s.SentimentMs is not null).Select(s => s.SentimentMs!.Value).ToArray(), 50),
            Percentiles.Of(ok.Where(s => s.FirstTokenMs is not null).Select(s => s.FirstTokenMs!.Value).ToArray(), 50));
    }
}

/// <summary>A kind of turn over the plain chat turn at one level: the combined turn's goal is at most 1.15 in prefill tokens and time.</summary>
internal sealed record TurnCostRatio(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("concurrency")] int Concurrency,
    [property: JsonPropertyName("prefill_tokens_ratio")] double? PrefillTokensRatio,
    [property: JsonPropertyName("prefill_time_ratio")] double? PrefillTimeRatio,
    [property: JsonPropertyName("p50_ratio")] double? P50Ratio)
{
    public const double CombinedGoal = 1.15;

    public static IReadOnlyList<TurnCostRatio> Of(IReadOnlyList<TurnCostRow> rows) =>
        rows.Where(r => r.Kind != TurnKinds.Plain)
            .Select(r => (Row: r, Plain: rows.FirstOrDefault(p => p.Kind == TurnKinds.Plain && p.Concurrency == r.Concurrency)))
            .Where(p => p.Plain is not null)
            .Select(p => new TurnCostRatio(p.Row.Kind, p.Row.Concurrency,
                Ratio(p.Row.PrefillTokensPerTurn, p.Plain!.PrefillTokensPerTurn),
                Ratio(p.Row.PrefillMsPerTurn, p.Plain.PrefillMsPerTurn),
                Ratio(p.Row.P50Ms, p.Plain.P50Ms)))
            .ToArray();

    private static double? Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? x / y : null;
}

/// <summary>The whole <c>bench-serve --turn-cost</c> run.</summary>
internal sealed record TurnCostReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("threads")] int Threads,
    [property: JsonPropertyName("turns_per_level")] int TurnsPerLevel,
    [property: JsonPropertyName("max_new_tokens")] int MaxNewTokens,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("configuration")] string Configuration,
    [property: JsonPropertyName("rows")] IReadOnlyList<TurnCostRow> Rows,
    [property: JsonPropertyName("ratios")] IReadOnlyList<TurnCostRatio> Ratios);
