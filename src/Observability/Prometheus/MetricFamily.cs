namespace Qwen.Observability.Prometheus;

/// <summary>The Prometheus metric types this service exposes.</summary>
public enum MetricType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>One labelled value: a counter or gauge series, or one line of a histogram (a bucket, its sum or its count).</summary>
/// <param name="Name">The full sample name, e.g. <c>qwen_api_request_duration_seconds_bucket</c>.</param>
/// <param name="Labels">Label pairs in exposition order (for histogram buckets <c>le</c> is last).</param>
public sealed record MetricSample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value)
{
    public string? Label(string name)
    {
        foreach (var (key, value) in Labels)
        {
            if (key == name) return value;
        }
        return null;
    }

    /// <summary>The sample with <paramref name="name"/> set to <paramref name="value"/> (replaced if present, otherwise first).</summary>
    public MetricSample WithLabel(string name, string value)
    {
        var labels = new List<KeyValuePair<string, string>>(Labels.Count + 1) { new(name, value) };
        labels.AddRange(Labels.Where(l => l.Key != name));
        return this with { Labels = labels };
    }
}

/// <summary>A metric family: one name, type and help text, and its samples.</summary>
public sealed record MetricFamily(string Name, MetricType Type, string Help, IReadOnlyList<MetricSample> Samples);
