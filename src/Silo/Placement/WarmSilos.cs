using System.Collections.Concurrent;
using Orleans.Runtime;
using Qwen.Grains;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Placement;

/// <summary>
/// Which silos of the cluster have their model loaded, as this silo last saw them: its own state
/// directly, the others' by asking each active member's <see cref="ISiloGrain"/> once a second.
/// </summary>
internal sealed partial class WarmSilos(
    IClusterMembershipService membership, IGrainFactory grains, ILocalSiloDetails local, ISiloModel model, ILogger<WarmSilos> logger)
    : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<SiloAddress, bool> _warm = new();

    public bool IsWarm(SiloAddress silo) =>
        silo.Equals(local.SiloAddress) ? model.State == SiloStatusReport.Active : _warm.TryGetValue(silo, out bool warm) && warm;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            var members = membership.CurrentSnapshot.Members.Values
                .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(local.SiloAddress)).Select(m => m.SiloAddress).ToArray();
            foreach (var gone in _warm.Keys.Except(members)) _warm.TryRemove(gone, out _);
            await Task.WhenAll(members.Select(silo => RefreshAsync(silo, stoppingToken)));
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task RefreshAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Period);
            var status = await grains.GetGrain<ISiloGrain>(SiloGrainKey.For(silo.ToParsableString())).GetStatusAsync(timeout.Token);
            _warm[silo] = status.IsActive;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _warm[silo] = false;
            LogUnknown(logger, silo, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Silo {Silo} did not report its state: {Reason}")]
    private static partial void LogUnknown(ILogger logger, SiloAddress silo, string reason);
}
