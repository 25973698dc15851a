using Qwen.Observability.Metrics;
using Qwen.Observability.Prometheus;

namespace Qwen.Api.Observability;

/// <summary>
/// The Api's /metrics: its own metrics, every live silo's metrics labelled silo="id" (read
/// through each silo's grain; in the embedded mode they are the process's own), and cluster
/// totals: each silo family summed over the silos, named <c>qwen_cluster_*</c>.
/// </summary>
public sealed class ClusterMetricsExposition(MeterCollector collector, ISiloMetricsSource silos)
{
    /// <summary>Silo families that make sense summed over the cluster.</summary>
    private static bool IsSummable(string family) =>
        family.StartsWith("qwen_silo_", StringComparison.Ordinal) || family.StartsWith("qwen_inference_", StringComparison.Ordinal)
        || (family.StartsWith("process_", StringComparison.Ordinal) && family != "process_start_time_seconds");

    public async Task<string> WriteAsync(CancellationToken cancellationToken)
    {
        var snapshots = await silos.ReadAsync(cancellationToken);
        var families = new SortedDictionary<string, (MetricFamily Family, List<MetricSample> Samples)>(StringComparer.Ordinal);
        void Add(MetricFamily family)
        {
            if (!families.TryGetValue(family.Name, out var entry))
            {
                entry = (family, []);
                families.Add(family.Name, entry);
            }
            if (entry.Family.Type == family.Type) entry.Samples.AddRange(family.Samples);
        }

        foreach (var family in collector.Collect()) Add(family);
        if (!silos.IsEmbedded)
        {
            foreach (var family in snapshots.SelectMany(s => s.Families)) Add(family);
        }
        foreach (var family in Totals(snapshots)) Add(family);
        foreach (var family in Membership(snapshots)) Add(family);
        return PrometheusText.Write(families.Values.Select(e => e.Family with { Samples = e.Samples }));
    }

    private static IEnumerable<MetricFamily> Totals(IReadOnlyList<SiloMetricsSnapshot> snapshots)
    {
        var byName = snapshots.SelectMany(s => s.Families).Where(f => IsSummable(f.Name)).GroupBy(f => f.Name);
        foreach (var group in byName)
        {
            string name = TotalName(group.Key);
            var samples = group.SelectMany(f => f.Samples)
                .GroupBy(s => (Name: s.Name, Labels: string.Join('\u0001', s.Labels.Where(l => l.Key != "silo").Select(l => l.Key + "\u0002" + l.Value))))
                .Select(g =>
                {
                    var first = g.First();
                    return new MetricSample(name + first.Name[group.Key.Length..], first.Labels.Where(l => l.Key != "silo").ToArray(), g.Sum(s => s.Value));
                })
                .ToArray();
            var template = group.First();
            yield return new MetricFamily(name, template.Type, $"{template.Help} (sum over the cluster's silos)", samples);
        }
    }

    public static string TotalName(string siloFamily) =>
        "qwen_cluster_" + (siloFamily.StartsWith("qwen_", StringComparison.Ordinal) ? siloFamily["qwen_".Length..] : siloFamily);

    private static IEnumerable<MetricFamily> Membership(IReadOnlyList<SiloMetricsSnapshot> snapshots)
    {
        string[] statuses = ["active", "cold", "warming", "joining", "stopping", "dead"];
        yield return new MetricFamily("qwen_cluster_silos", MetricType.Gauge, "Silos of the cluster's membership, by status",
            statuses.Select(status => new MetricSample("qwen_cluster_silos",
                [new("status", status)], snapshots.Count(s => s.Silo.Status == status))).ToArray());
        yield return new MetricFamily("qwen_cluster_silo_up", MetricType.Gauge, "1 when the silo's metrics could be read by the Api, 0 otherwise",
            snapshots.Select(s => new MetricSample("qwen_cluster_silo_up", [new("silo", s.Silo.SiloId)], s.Error is null ? 1 : 0)).ToArray());
    }
}
