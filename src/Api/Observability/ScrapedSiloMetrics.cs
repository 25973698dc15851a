using Qwen.Api.Cluster;
using Qwen.Grains.Interfaces;
using Qwen.Observability.Prometheus;

namespace Qwen.Api.Observability;

/// <summary>
/// Clustered mode: each silo the directory knows, with the metrics it renders itself (asked through
/// its <see cref="ISiloGrain"/>), at most once per second however many callers ask (dashboards, scrapers).
/// </summary>
public sealed partial class ScrapedSiloMetrics(SiloDirectory directory, IGrainFactory grains, TimeProvider time, ILogger<ScrapedSiloMetrics> logger)
    : ISiloMetricsSource
{
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(3);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTimeOffset At, IReadOnlyList<SiloMetricsSnapshot> Silos)? _last;

    public bool IsEmbedded => false;

    public async Task<IReadOnlyList<SiloMetricsSnapshot>> ReadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_last is { } last && time.GetUtcNow() - last.At < Freshness) return last.Silos;
            var silos = await Task.WhenAll(directory.All.Select(silo => ScrapeAsync(silo, cancellationToken)));
            _last = (time.GetUtcNow(), silos);
            return silos;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<SiloMetricsSnapshot> ScrapeAsync(SiloView silo, CancellationToken cancellationToken)
    {
        if (silo.Status is "dead" or "joining") return new SiloMetricsSnapshot(silo, [], silo.Status);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ScrapeTimeout);
        try
        {
            string text = await grains.GetGrain<ISiloGrain>(SiloGrainKey.For(silo.Address)).GetMetricsTextAsync(timeout.Token);
            return new SiloMetricsSnapshot(silo, SiloMetricsSnapshot.Labelled(PrometheusTextParser.Parse(text), silo.SiloId), null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            LogScrapeFailed(logger, silo.SiloId, e.Message);
            return new SiloMetricsSnapshot(silo, [], e is OperationCanceledException ? "metrics timed out" : e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the metrics of silo {SiloId} failed: {Reason}")]
    private static partial void LogScrapeFailed(ILogger logger, string siloId, string reason);
}
