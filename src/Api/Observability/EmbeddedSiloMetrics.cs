using Qwen.Cluster.Membership;
using Qwen.Grains;
using Qwen.Observability.Metrics;

namespace Qwen.Api.Observability;

/// <summary>
/// Embedded mode: the one silo runs in this process, so its metrics are this process's own
/// (its meters carry silo="id"; the process figures are the silo's too).
/// </summary>
public sealed class EmbeddedSiloMetrics(IMembershipTable membership, MeterCollector collector, SiloIdentity silo) : ISiloMetricsSource
{
    public bool IsEmbedded => true;

    public async Task<IReadOnlyList<SiloMetricsSnapshot>> ReadAsync(CancellationToken cancellationToken)
    {
        var row = (await membership.ReadAllAsync(cancellationToken)).FirstOrDefault(s => s.SiloId == silo.Id);
        if (row is null) return [];
        var families = collector.Collect()
            .Select(f => f.Name.StartsWith("process_", StringComparison.Ordinal) ? f
                : f with { Samples = f.Samples.Where(s => s.Label("silo") == silo.Id).ToArray() })
            .Where(f => f.Samples.Count > 0);
        return [new SiloMetricsSnapshot(row, SiloMetricsSnapshot.Labelled(families, silo.Id), null)];
    }
}
