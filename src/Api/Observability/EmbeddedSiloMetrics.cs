using Qwen.Api.Cluster;
using Qwen.Observability.Metrics;

namespace Qwen.Api.Observability;

/// <summary>
/// Embedded mode: the one silo runs in this process, so its metrics are this process's own
/// (its meters carry silo="id"; the process figures are the silo's too).
/// </summary>
public sealed class EmbeddedSiloMetrics(SiloDirectory directory, MeterCollector collector) : ISiloMetricsSource
{
    public bool IsEmbedded => true;

    public Task<IReadOnlyList<SiloMetricsSnapshot>> ReadAsync(CancellationToken cancellationToken)
    {
        if (directory.All is not [var silo, ..]) return Task.FromResult<IReadOnlyList<SiloMetricsSnapshot>>([]);
        var families = collector.Collect()
            .Select(f => f.Name.StartsWith("process_", StringComparison.Ordinal) ? f
                : f with { Samples = f.Samples.Where(s => s.Label("silo") == silo.SiloId).ToArray() })
            .Where(f => f.Samples.Count > 0);
        return Task.FromResult<IReadOnlyList<SiloMetricsSnapshot>>([new SiloMetricsSnapshot(silo, SiloMetricsSnapshot.Labelled(families, silo.SiloId), null)]);
    }
}
