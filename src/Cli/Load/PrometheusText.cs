using Qwen.Observability.Prometheus;

namespace Qwen.Cli.Load;

/// <summary>
/// Reads the server's resident memory from a Prometheus text exposition (parsed by the project's one parser,
/// <see cref="PrometheusTextParser"/>): <c>process_resident_memory_bytes</c> if present, otherwise the first metric
/// whose name mentions RSS or resident memory.
/// </summary>
internal static class PrometheusText
{
    public const string StandardRssMetric = "process_resident_memory_bytes";

    /// <summary>The server's RSS in MB and the metric it came from, or null when the page has no such metric or is not Prometheus text.</summary>
    public static (string Metric, double Megabytes)? Rss(string text)
    {
        MetricSample[] samples;
        try
        {
            samples = [.. PrometheusTextParser.Parse(text).SelectMany(f => f.Samples).Where(s => double.IsFinite(s.Value))];
        }
        catch (FormatException)
        {
            return null;
        }
        string? name = samples.Any(s => s.Name == StandardRssMetric)
            ? StandardRssMetric
            : samples.Select(s => s.Name).FirstOrDefault(IsRssName);
        if (name is null) return null;
        var series = samples.Where(s => s.Name == name).ToArray();
        // The process's own unlabelled series if there is one; otherwise every labelled series (e.g. one per silo) together.
        double value = series.FirstOrDefault(s => s.Labels.Count == 0)?.Value ?? series.Sum(s => s.Value);
        return (name, value / BytesPerUnit(name) / (1024.0 * 1024.0));
    }

    private static bool IsRssName(string name)
    {
        string n = name.ToLowerInvariant();
        if (n.EndsWith("_bucket", StringComparison.Ordinal) || n.EndsWith("_count", StringComparison.Ordinal) || n.EndsWith("_sum", StringComparison.Ordinal))
            return false;
        return n.Contains("rss", StringComparison.Ordinal) || n.Contains("resident_memory", StringComparison.Ordinal)
               || n.Contains("working_set", StringComparison.Ordinal);
    }

    /// <summary>1 / the metric's unit in bytes, from its name's unit suffix (Prometheus names carry their unit; bytes when none).</summary>
    private static double BytesPerUnit(string name)
    {
        string n = name.ToLowerInvariant();
        if (n.EndsWith("megabytes", StringComparison.Ordinal) || n.EndsWith("_mb", StringComparison.Ordinal)) return 1.0 / (1024 * 1024);
        if (n.EndsWith("kilobytes", StringComparison.Ordinal) || n.EndsWith("_kb", StringComparison.Ordinal)) return 1.0 / 1024;
        return 1.0;
    }
}
