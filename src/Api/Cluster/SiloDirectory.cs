using Orleans.Runtime;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Cluster;

/// <summary>
/// The cluster's silos as the Api sees them, refreshed every second: the membership from Orleans'
/// management grain, and from each active member its own state and load (<see cref="ISiloGrain"/>).
/// Routing, readiness, metrics, the dashboard and autoscaling read it; reading costs no call.
/// </summary>
public sealed partial class SiloDirectory(IGrainFactory grains, TimeProvider time, ILogger<SiloDirectory> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DeadSilosShownFor = TimeSpan.FromMinutes(10);

    private readonly TaskCompletionSource _firstRefresh = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile IReadOnlyList<SiloView> _silos = [];

    /// <summary>Every silo that is alive or died in the last minutes.</summary>
    public IReadOnlyList<SiloView> All => _silos;

    /// <summary>Silos with their model loaded that answered the last poll, least busy first.</summary>
    public IReadOnlyList<SiloView> Active => [.. _silos.Where(s => s.IsActive).OrderBy(s => s.Backlog)];

    /// <summary>
    /// Silos to try, best first: the active ones that answered the last poll, then those whose last poll only failed
    /// (a busy silo may miss one status call and still serve).
    /// </summary>
    public IReadOnlyList<SiloView> Candidates =>
        [.. Active, .. _silos.Where(s => s.Status == SiloStatusReport.Active && s.Error is not null)];

    /// <summary>Completes after the first poll (successful or not).</summary>
    public Task FirstRefresh => _firstRefresh.Task;

    /// <summary>Polls now (between timer ticks), e.g. after a warm-up.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Bounded here: a call stuck on a silo that just died (or was cut off) must not freeze the view until the call timeout.
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false).WaitAsync(Period * 2, cancellationToken);
            var now = time.GetUtcNow();
            var previous = _silos.ToDictionary(s => s.Address);
            var entries = hosts.Where(h => h.Status != SiloStatus.Dead || now - new DateTimeOffset(h.IAmAliveTime, TimeSpan.Zero) < DeadSilosShownFor);
            _silos = await Task.WhenAll(entries.Select(h => ViewAsync(h, previous, cancellationToken)));
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            LogPollFailed(logger, e.Message);
        }
        finally
        {
            _firstRefresh.TrySetResult();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        do
        {
            await RefreshAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task<SiloView> ViewAsync(MembershipEntry entry, Dictionary<string, SiloView> previous, CancellationToken cancellationToken)
    {
        string address = entry.SiloAddress.ToParsableString();
        var started = new DateTimeOffset(entry.StartTime, TimeSpan.Zero);
        var seen = new DateTimeOffset(entry.IAmAliveTime, TimeSpan.Zero);
        previous.TryGetValue(address, out var before);
        if (entry.Status != SiloStatus.Active)
            return new SiloView(before?.SiloId ?? entry.SiloName, address, MembershipStatus(entry.Status), started, seen, null, 0, null);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Period * 2);
        try
        {
            var report = await grains.GetGrain<ISiloGrain>(SiloGrainKey.For(address)).GetStatusAsync(timeout.Token)
                .WaitAsync(Period * 2, cancellationToken);
            var now = time.GetUtcNow();
            double rate = 0;
            if (before?.Load is { } was && report.Load is { } load && now > before.LastSeen)
                rate = Math.Max(0, load.GeneratedTokens - was.GeneratedTokens) / (now - before.LastSeen).TotalSeconds;
            return new SiloView(report.SiloId, address, report.State, started, now, report.Load, Math.Round(rate, 2), null, report.Activity);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new SiloView(before?.SiloId ?? entry.SiloName, address, MembershipStatus(entry.Status), started, seen, null, 0,
                e is OperationCanceledException or TimeoutException ? "status timed out" : e.Message);
        }
    }

    private static string MembershipStatus(SiloStatus status) => status switch
    {
        SiloStatus.Active => SiloStatusReport.Active,
        SiloStatus.ShuttingDown or SiloStatus.Stopping => SiloStatusReport.Stopping,
        SiloStatus.Dead => "dead",
        _ => "joining",
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the cluster's membership failed: {Reason}")]
    private static partial void LogPollFailed(ILogger logger, string reason);
}
