using System.Text.Json.Serialization;

namespace Qwen.Cli.Serving;

/// <summary>Resident memory of this process at a moment of the soak.</summary>
internal sealed record RssSample(
    [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds,
    [property: JsonPropertyName("rss_mb")] double RssMb);

/// <summary>
/// A long run at one concurrency: whether memory stays flat. The baseline is RSS after the
/// first minute (after half the run for runs shorter than two minutes).
/// </summary>
internal sealed record SoakReport(
    [property: JsonPropertyName("duration_s")] double DurationSeconds,
    [property: JsonPropertyName("result")] ServeRow Result,
    [property: JsonPropertyName("baseline_at_s")] double BaselineAtSeconds,
    [property: JsonPropertyName("rss_first_minute_mb")] double RssFirstMinuteMb,
    [property: JsonPropertyName("rss_end_mb")] double RssEndMb,
    [property: JsonPropertyName("rss_change_pct")] double RssChangePercent,
    [property: JsonPropertyName("rss_samples")] IReadOnlyList<RssSample> RssSamples)
{
    /// <summary>Every 5 s, more often for short runs so that there are at least 20 samples.</summary>
    public static TimeSpan SampleInterval(TimeSpan duration) =>
        TimeSpan.FromSeconds(Math.Clamp(duration.TotalSeconds / 20, 0.25, 5));

    public static TimeSpan BaselineTime(TimeSpan duration) =>
        duration >= TimeSpan.FromMinutes(2) ? TimeSpan.FromMinutes(1) : duration / 2;

    public static SoakReport From(ServeRow result, TimeSpan duration, IReadOnlyList<RssSample> samples)
    {
        double at = BaselineTime(duration).TotalSeconds;
        var baseline = samples.FirstOrDefault(s => s.ElapsedSeconds >= at) ?? samples[^1];
        var end = samples[^1];
        return new SoakReport(duration.TotalSeconds, result, baseline.ElapsedSeconds, baseline.RssMb, end.RssMb,
            (end.RssMb - baseline.RssMb) / baseline.RssMb * 100, samples);
    }
}
