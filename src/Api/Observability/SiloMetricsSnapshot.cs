using Qwen.Api.Cluster;
using Qwen.Observability.Metrics;

namespace Qwen.Api.Observability;

/// <summary>One silo as the Api last saw it: its view (membership and load) and its metrics (every series labelled silo="id").</summary>
/// <param name="Error">Why the metrics could not be read (unreachable silo), or null.</param>
public sealed record SiloMetricsSnapshot(SiloView Silo, IReadOnlyList<MetricFamily> Families, string? Error)
{
    /// <summary>Sum of the family's series for this silo (over their other labels); null if the family is absent.</summary>
    public double? Value(string family)
    {
        var match = Families.FirstOrDefault(f => f.Name == family);
        return match is null ? null : match.Samples.Where(s => s.Name == family).Sum(s => s.Value);
    }

    /// <summary>Gives every sample the label silo="id" (samples labelled with this silo already keep theirs).</summary>
    public static IReadOnlyList<MetricFamily> Labelled(IEnumerable<MetricFamily> families, string siloId) =>
        families.Select(f => f with { Samples = f.Samples.Select(s => s.Label("silo") == siloId ? s : s.WithLabel("silo", siloId)).ToArray() })
            .ToArray();
}

/// <summary>Where the Api gets each silo's view and metrics.</summary>
public interface ISiloMetricsSource
{
    /// <summary>True when the silo runs in the Api's own process (its metrics are already among the local ones).</summary>
    bool IsEmbedded { get; }

    /// <summary>The silos that are alive or left recently, with their metrics.</summary>
    Task<IReadOnlyList<SiloMetricsSnapshot>> ReadAsync(CancellationToken cancellationToken);
}
