using Microsoft.Extensions.Options;
using Qwen.Cluster.Membership;

namespace Qwen.Api.Routing;

/// <summary>
/// The Api's view of the cluster: the silos that are active and have their model loaded,
/// re-read from the membership table in the background and on demand after a failure.
/// </summary>
public sealed class SiloDirectory(IMembershipTable membership, IOptions<RoutingOptions> options, ILogger<SiloDirectory> logger)
    : BackgroundService
{
    private volatile IReadOnlyList<SiloRecord> _active = [];
    private readonly SemaphoreSlim _refreshGate = new(1, 1);

    /// <summary>The silos calls may go to, as last read.</summary>
    public IReadOnlyList<SiloRecord> Active => _active;

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            var all = await membership.ReadAllAsync(cancellationToken);
            var active = all.Where(s => s.Status == SiloStatus.Active && s.Load.ModelLoaded).ToArray();
            if (active.Length != _active.Count || active.Zip(_active).Any(p => p.First.SiloId != p.Second.SiloId))
                logger.LogInformation("Routing to {SiloCount} active silos: {Silos}", active.Length, string.Join(", ", active.Select(s => s.SiloId)));
            _active = active;
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Reading the membership table failed; keeping the last list of {SiloCount} silos", _active.Count);
            }
            try
            {
                await Task.Delay(options.Value.MembershipRefresh, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
