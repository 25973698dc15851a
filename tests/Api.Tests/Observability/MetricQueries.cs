using Qwen.Observability.Prometheus;

namespace Qwen.Api.Tests.Observability;

internal static class MetricQueries
{
    /// <summary>Sum of the samples named <paramref name="sample"/> whose labels include all of <paramref name="labels"/>.</summary>
    public static double Sum(this IReadOnlyList<MetricFamily> families, string sample, params (string Key, string Value)[] labels) =>
        families.SelectMany(f => f.Samples)
            .Where(s => s.Name == sample && labels.All(l => s.Label(l.Key) == l.Value))
            .Sum(s => s.Value);

    public static IEnumerable<MetricSample> Samples(this IReadOnlyList<MetricFamily> families, string sample) =>
        families.SelectMany(f => f.Samples).Where(s => s.Name == sample);
}
