using Qwen.Api.Routing;
using Qwen.Cluster.Membership;
using Qwen.Grains.Interfaces;
using Qwen.Observability.Prometheus;

namespace Qwen.Api.Observability;

/// <summary>
/// Clustered mode: reads the membership table and scrapes each live silo's /metrics over the
/// silo transport, at most once per second however many callers ask (dashboards, scrapers).
/// </summary>
public sealed class ScrapedSiloMetrics(IMembershipTable membership, SiloClients clients, TimeProvider time, ILogger<ScrapedSiloMetrics> logger)
    : ISiloMetricsSource
{
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan DeadSilosShownFor = TimeSpan.FromMinutes(10);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTimeOffset At, IReadOnlyList<SiloMetricsSnapshot> Silos)? _last;

    public bool IsEmbedded => false;

    public async Task<IReadOnlyList<SiloMetricsSnapshot>> ReadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_last is { } last && time.GetUtcNow() - last.At < Freshness) return last.Silos;
            var now = time.GetUtcNow();
            var rows = (await membership.ReadAllAsync(cancellationToken))
                .Where(s => s.Status != SiloStatus.Dead || now - s.LastHeartbeat < DeadSilosShownFor)
                .ToArray();
            var silos = await Task.WhenAll(rows.Select(row => ScrapeAsync(row, cancellationToken)));
            _last = (time.GetUtcNow(), silos);
            return silos;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<SiloMetricsSnapshot> ScrapeAsync(SiloRecord silo, CancellationToken cancellationToken)
    {
        if (silo.Status == SiloStatus.Dead) return new SiloMetricsSnapshot(silo, [], "dead");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ScrapeTimeout);
        try
        {
            string text = await clients.For(silo.Endpoint).GetMetricsTextAsync(timeout.Token);
            return new SiloMetricsSnapshot(silo, SiloMetricsSnapshot.Labelled(PrometheusTextParser.Parse(text), silo.SiloId), null);
        }
        catch (Exception e) when (e is GrainCallException or FormatException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            logger.LogWarning("Reading the metrics of silo {SiloId} at {Endpoint} failed: {Reason}", silo.SiloId, silo.Endpoint, e.Message);
            return new SiloMetricsSnapshot(silo, [], e is OperationCanceledException ? "metrics timed out" : e.Message);
        }
    }
}
