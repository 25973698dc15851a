using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Qwen.Api.Cluster;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Scaling;

/// <summary>
/// Re-evaluates the recommended silo count every <see cref="AutoscaleOptions.EvaluationInterval"/>
/// from the silos' reported load and the Api's own request latencies, publishes it
/// (GET /v1/cluster/scale, gauge qwen_cluster_recommended_silos of meter "Qwen.Api") and warms
/// up cold silos when more are recommended than are warm.
/// </summary>
public sealed class ClusterScaleMonitor : BackgroundService
{
    public const string MeterName = "Qwen.Api";

    private readonly SiloDirectory _directory;
    private readonly IGrainFactory _grains;
    private readonly RequestLatencyWindow _latency;
    private readonly AutoscaleOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<ClusterScaleMonitor> _logger;
    private readonly ScaleAdvisor _advisor;
    private readonly Dictionary<string, DateTimeOffset> _warmupSent = new(StringComparer.Ordinal);
    private volatile ScaleRecommendation? _latest;
    private int _lastActive = -1;
    private DateTimeOffset _activeChangedAt = DateTimeOffset.MinValue;

    public ClusterScaleMonitor(SiloDirectory directory, IGrainFactory grains, RequestLatencyWindow latency, IOptions<AutoscaleOptions> options,
        TimeProvider clock, IMeterFactory meters, ILogger<ClusterScaleMonitor> logger)
    {
        _directory = directory;
        _grains = grains;
        _latency = latency;
        _options = options.Value.Validate();
        _clock = clock;
        _logger = logger;
        _advisor = new ScaleAdvisor(_options);
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("qwen_cluster_recommended_silos", () => _latest?.Recommended ?? 0, "{silo}",
            "Silo count the autoscaling signal recommends (queue depth and p90 latency against Autoscale:*, with hysteresis)");
        meter.CreateObservableGauge("qwen_cluster_active_silos", () => _latest?.Current ?? 0, "{silo}",
            "Silos the Api routes to (active, model loaded)");
    }

    public AutoscaleOptions Options => _options;

    /// <summary>The latest evaluation (evaluates now if none has run yet).</summary>
    public ScaleRecommendation Latest => _latest ?? Evaluate();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.EvaluationInterval, _clock);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var recommendation = Evaluate();
                if (_options.WarmColdSilos) await WarmColdSilosAsync(recommendation, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning(e, "Evaluating the recommended silo count failed; trying again");
            }
            try
            {
                await timer.WaitForNextTickAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private ScaleRecommendation Evaluate()
    {
        lock (_advisor)
        {
            var now = _clock.GetUtcNow();
            var all = _directory.All;
            var active = all.Where(s => s.IsActive).ToArray();
            int joining = all.Count(s => s.Status is "joining" or SiloStatusReport.Warming);
            int cold = all.Count(s => s.Status == SiloStatusReport.Cold);
            if (active.Length != _lastActive)
            {
                // Latency measured before the last change says little about the cluster as it is now.
                _lastActive = active.Length;
                _activeChangedAt = now;
            }
            var since = now - _options.LatencyWindow > _activeChangedAt ? now - _options.LatencyWindow : _activeChangedAt;
            var (p90, samples) = _latency.P90Since(since);
            var inputs = new ScaleInputs(active.Length, joining, cold, active.Sum(s => s.Backlog), p90, samples);
            var previous = _latest;
            var recommendation = _advisor.Evaluate(inputs, now);
            _latest = recommendation;
            if (previous is null || previous.Recommended != recommendation.Recommended)
                _logger.LogInformation("Recommended silo count {Recommended} (active {Active}): {Reason}",
                    recommendation.Recommended, recommendation.Current, recommendation.Reason);
            return recommendation;
        }
    }

    private async Task WarmColdSilosAsync(ScaleRecommendation recommendation, CancellationToken cancellationToken)
    {
        int missing = recommendation.Recommended - recommendation.Inputs.ActiveSilos - recommendation.Inputs.JoiningSilos;
        if (missing <= 0 || recommendation.Inputs.ColdSilos == 0) return;
        var now = _clock.GetUtcNow();
        var cold = _directory.All.Where(s => s.Status == SiloStatusReport.Cold)
            .Where(s => !_warmupSent.TryGetValue(s.SiloId, out var sent) || now - sent > TimeSpan.FromSeconds(10))
            .OrderBy(s => s.SiloId, StringComparer.Ordinal)
            .Take(missing);
        foreach (var silo in cold)
        {
            _warmupSent[silo.SiloId] = now;
            try
            {
                // Not awaited to the end: loading takes seconds, and the next evaluation sees the silo warming.
                _ = _grains.GetGrain<ISiloGrain>(SiloGrainKey.For(silo.Address)).WarmUpAsync(CancellationToken.None);
                await Task.Yield();
                _logger.LogInformation("Warming up cold silo {SiloId}: {Recommended} silos recommended, {Active} active",
                    silo.SiloId, recommendation.Recommended, recommendation.Inputs.ActiveSilos);
            }
            catch (GrainCallException e)
            {
                _logger.LogWarning("Could not warm up cold silo {SiloId}: {Reason}", silo.SiloId, e.Message);
            }
        }
    }
}
