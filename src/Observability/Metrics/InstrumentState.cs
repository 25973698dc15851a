using System.Diagnostics.Metrics;
using System.Globalization;
using Qwen.Observability.Prometheus;

namespace Qwen.Observability.Metrics;

/// <summary>
/// What one instrument has measured, per label set: a running sum (counters, up-down
/// counters), the last value (gauges and every observable instrument, whose callbacks report
/// current or cumulative values) or histogram buckets.
/// </summary>
internal sealed class InstrumentState
{
    // Seconds suit request and step latencies; the rest gets OpenTelemetry's default boundaries.
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private static readonly double[] DefaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Series> _series = new(StringComparer.Ordinal);
    private readonly KeyValuePair<string, string>[] _fixedLabels;
    private readonly Aggregation _aggregation;
    private readonly double[] _bounds = [];

    private enum Aggregation
    {
        Sum,
        LastValue,
        Histogram,
    }

    private InstrumentState(Instrument instrument, MetricType type, Aggregation aggregation, double[] bounds)
    {
        Instrument = instrument;
        Type = type;
        _aggregation = aggregation;
        _bounds = bounds;
        FamilyName = PrometheusNames.Family(instrument.Name, instrument.Unit, type);
        Help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;
        _fixedLabels = (instrument.Meter.Tags ?? []).Concat(instrument.Tags ?? [])
            .Select(t => new KeyValuePair<string, string>(PrometheusNames.Label(t.Key), Text(t.Value)))
            .ToArray();
    }

    public Instrument Instrument { get; }
    public MetricType Type { get; }
    public string FamilyName { get; }
    public string Help { get; }
    public bool IsObservable => Instrument.IsObservable;

    /// <summary>The state for an instrument this collector understands, or null.</summary>
    public static InstrumentState? For(Instrument instrument)
    {
        if (!instrument.GetType().IsGenericType) return null;
        var kind = instrument.GetType().GetGenericTypeDefinition();
        if (kind == typeof(Counter<>)) return new(instrument, MetricType.Counter, Aggregation.Sum, []);
        if (kind == typeof(ObservableCounter<>)) return new(instrument, MetricType.Counter, Aggregation.LastValue, []);
        if (kind == typeof(UpDownCounter<>)) return new(instrument, MetricType.Gauge, Aggregation.Sum, []);
        if (kind == typeof(ObservableUpDownCounter<>) || kind == typeof(ObservableGauge<>) || kind == typeof(Gauge<>))
            return new(instrument, MetricType.Gauge, Aggregation.LastValue, []);
        if (kind == typeof(Histogram<>)) return new(instrument, MetricType.Histogram, Aggregation.Histogram, BoundsOf(instrument));
        return null;
    }

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = Labels(tags, out string key);
        lock (_lock)
        {
            if (!_series.TryGetValue(key, out var series))
            {
                series = new Series(labels, _aggregation == Aggregation.Histogram ? new long[_bounds.Length + 1] : null);
                _series.Add(key, series);
            }
            switch (_aggregation)
            {
                case Aggregation.Sum:
                    series.Value += value;
                    break;
                case Aggregation.LastValue:
                    series.Value = value;
                    break;
                case Aggregation.Histogram:
                    int bucket = 0;
                    while (bucket < _bounds.Length && value > _bounds[bucket]) bucket++; // the last bucket is +Inf
                    series.Buckets![bucket]++;
                    series.Value += value;
                    series.Count++;
                    break;
            }
        }
    }

    /// <summary>Forgets observed values before the callbacks run again, so series that are gone disappear.</summary>
    public void BeginObservation()
    {
        if (!IsObservable) return;
        lock (_lock) _series.Clear();
    }

    public IEnumerable<MetricSample> Samples()
    {
        lock (_lock)
        {
            var samples = new List<MetricSample>();
            foreach (var series in _series.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Value))
            {
                if (_aggregation != Aggregation.Histogram)
                {
                    samples.Add(new MetricSample(FamilyName, series.Labels, series.Value));
                    continue;
                }
                long cumulative = 0;
                for (int i = 0; i <= _bounds.Length; i++)
                {
                    cumulative += series.Buckets![i];
                    string le = i < _bounds.Length ? PrometheusText.FormatValue(_bounds[i]) : "+Inf";
                    samples.Add(new MetricSample(FamilyName + "_bucket", [.. series.Labels, new("le", le)], cumulative));
                }
                samples.Add(new MetricSample(FamilyName + "_sum", series.Labels, series.Value));
                samples.Add(new MetricSample(FamilyName + "_count", series.Labels, series.Count));
            }
            return samples;
        }
    }

    private KeyValuePair<string, string>[] Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags, out string key)
    {
        var labels = new KeyValuePair<string, string>[_fixedLabels.Length + tags.Length];
        _fixedLabels.CopyTo(labels, 0);
        int n = _fixedLabels.Length;
        foreach (var tag in tags) labels[n++] = new(PrometheusNames.Label(tag.Key), Text(tag.Value));
        Array.Sort(labels, _fixedLabels.Length, tags.Length, Comparer<KeyValuePair<string, string>>.Create((a, b) => string.CompareOrdinal(a.Key, b.Key)));
        key = string.Join('\u0001', labels.Select(l => l.Key + "\u0002" + l.Value));
        return labels;
    }

    private static string Text(object? value) => value switch
    {
        null => "",
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static double[] BoundsOf(Instrument instrument)
    {
        IReadOnlyList<double>? advised = instrument switch
        {
            Instrument<double> d => d.Advice?.HistogramBucketBoundaries,
            Instrument<float> f => f.Advice?.HistogramBucketBoundaries?.Select(v => (double)v).ToArray(),
            Instrument<long> l => l.Advice?.HistogramBucketBoundaries?.Select(v => (double)v).ToArray(),
            Instrument<int> i => i.Advice?.HistogramBucketBoundaries?.Select(v => (double)v).ToArray(),
            _ => null,
        };
        return advised is { Count: > 0 } ? [.. advised.Order()] : instrument.Unit == "s" ? SecondsBuckets : DefaultBuckets;
    }

    private sealed class Series(KeyValuePair<string, string>[] labels, long[]? buckets)
    {
        public KeyValuePair<string, string>[] Labels { get; } = labels;
        public long[]? Buckets { get; } = buckets;
        public double Value { get; set; }
        public long Count { get; set; }
    }
}
