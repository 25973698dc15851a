using System.Globalization;

namespace Qwen.Cli.Load;

/// <summary>
/// Reads the server's resident memory from a Prometheus text exposition:
/// <c>process_resident_memory_bytes</c> if present, otherwise the first metric whose name
/// mentions RSS or resident memory.
/// </summary>
internal static class PrometheusText
{
    public const string StandardRssMetric = "process_resident_memory_bytes";

    /// <summary>One sample line: metric name, label set text (without braces, may be empty), value.</summary>
    public sealed record Sample(string Name, string Labels, double Value);

    public static IEnumerable<Sample> Parse(string text)
    {
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int brace = line.IndexOf('{', StringComparison.Ordinal);
            int space = line.IndexOfAny([' ', '\t']);
            if (space < 0) continue;
            string name, labels, rest;
            if (brace >= 0 && brace < space)
            {
                int close = line.LastIndexOf('}');
                if (close < brace) continue;
                name = line[..brace];
                labels = line[(brace + 1)..close];
                rest = line[(close + 1)..];
            }
            else
            {
                name = line[..space];
                labels = "";
                rest = line[space..];
            }
            string valueText = rest.Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
            if (TryParseValue(valueText, out double value)) yield return new Sample(name, labels, value);
        }
    }

    /// <summary>The server's RSS in MB and the metric it came from, or null when the exposition has no such metric.</summary>
    public static (string Metric, double Megabytes)? Rss(string text)
    {
        var samples = Parse(text).Where(s => double.IsFinite(s.Value)).ToArray();
        string? name = samples.Any(s => s.Name == StandardRssMetric)
            ? StandardRssMetric
            : samples.Select(s => s.Name).FirstOrDefault(IsRssName);
        if (name is null) return null;
        var series = samples.Where(s => s.Name == name).ToArray();
        // The process's own unlabelled series if there is one; otherwise every labelled series (e.g. one per silo) together.
        double value = series.FirstOrDefault(s => s.Labels.Length == 0)?.Value ?? series.Sum(s => s.Value);
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

    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf": value = double.PositiveInfinity; return true;
            case "-Inf": value = double.NegativeInfinity; return true;
            case "NaN": value = double.NaN; return true;
            default: return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }
}
