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
    private volatile IReadOnlyList<SiloRecord> _all = [];
    private readonly SemaphoreSlim _refreshGate = new(1, 1);

    /// <summary>The silos calls may go to, as last read.</summary>
    public IReadOnlyList<SiloRecord> Active => _active;

    /// <summary>Every row of the membership table as last read (cold, joining, leaving and dead silos too).</summary>
    public IReadOnlyList<SiloRecord> All => _all;

    /// <summary>Calls may go to a silo only once it is active with its model loaded (never a cold or joining one).</summary>
    public static bool IsRoutable(SiloRecord silo) => silo.Status == SiloStatus.Active && silo.Load.ModelLoaded;

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            var all = await membership.ReadAllAsync(cancellationToken);
            var active = all.Where(IsRoutable).ToArray();
            if (active.Length != _active.Count || active.Zip(_active).Any(p => p.First.SiloId != p.Second.SiloId))
                logger.LogInformation("Routing to {SiloCount} active silos: {Silos}", active.Length, string.Join(", ", active.Select(s => s.SiloId)));
            _active = active;
            _all = all;
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    /// <summary>Refreshes if the membership table can be read; otherwise keeps the last list (and says so in the log).</summary>
    public async Task TryRefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RefreshAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Reading the membership table failed ({Reason}); keeping the last list of {SiloCount} silos", e.Message, _active.Count);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await TryRefreshAsync(stoppingToken);
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
