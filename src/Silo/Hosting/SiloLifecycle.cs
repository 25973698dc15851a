using Microsoft.Extensions.Options;
using Qwen.Cluster.Membership;
using Qwen.Grains;
using Qwen.Silo.Runtime;

namespace Qwen.Silo.Hosting;

/// <summary>
/// A silo's life in the cluster: register as joining, load the model, become active and
/// heartbeat with load figures (declaring stale silos dead on the way); on shutdown, leave:
/// stop taking work, drain in-flight turns, then mark itself dead.
/// </summary>
public sealed class SiloLifecycle(
    IMembershipTable membership,
    MembershipView view,
    ModelHost model,
    SiloIdentity identity,
    SiloEndpoint endpoint,
    IServiceProvider services,
    IOptions<SiloOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<SiloLifecycle> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _heartbeats;
    private long _lastTokens;
    private DateTimeOffset _lastBeat = DateTimeOffset.UtcNow;

    public bool IsActive { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        await membership.RegisterAsync(new SiloRecord(identity.Id, endpoint.Url, SiloStatus.Joining, SiloLoad.Idle, now, now), cancellationToken);
        logger.LogInformation("Silo {SiloId} joining at {Endpoint}", identity.Id, endpoint.Url);
        await model.LoadAsync(cancellationToken);
        await membership.HeartbeatAsync(identity.Id, CurrentLoad(), cancellationToken);
        await membership.SetStatusAsync(identity.Id, SiloStatus.Active, cancellationToken);
        await RefreshViewAsync(cancellationToken);
        IsActive = true;
        logger.LogInformation("Silo {SiloId} active", identity.Id);
        _heartbeats = Task.Run(() => HeartbeatLoopAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!IsActive) return;
        IsActive = false;
        logger.LogInformation("Silo {SiloId} leaving: draining in-flight turns", identity.Id);
        try
        {
            await membership.SetStatusAsync(identity.Id, SiloStatus.Leaving, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not mark silo {SiloId} as leaving", identity.Id);
        }
        using (var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            drain.CancelAfter(options.Value.DrainTimeout);
            await services.GetRequiredService<GrainActivationTable>().StopAcceptingAsync(drain.Token);
        }
        await _stopping.CancelAsync();
        if (_heartbeats is not null) await _heartbeats.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await membership.SetStatusAsync(identity.Id, SiloStatus.Dead, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not mark silo {SiloId} as gone; the others will declare it dead", identity.Id);
        }
        logger.LogInformation("Silo {SiloId} left the cluster", identity.Id);
    }

    private async Task HeartbeatLoopAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(o.HeartbeatInterval, stoppingToken);
                await membership.HeartbeatAsync(identity.Id, CurrentLoad(), stoppingToken);
                var dead = await membership.DeclareStaleSilosDeadAsync(o.DeadSiloTimeout, stoppingToken);
                foreach (string id in dead) logger.LogWarning("Declared silo {DeadSiloId} dead: no heartbeat for {Timeout}", id, o.DeadSiloTimeout);
                await RefreshViewAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (SiloDeclaredDeadException e)
            {
                // The cluster has moved this silo's users elsewhere; serving on would fork them.
                logger.LogCritical(e, "Silo {SiloId} was declared dead by the cluster; stopping", identity.Id);
                Environment.ExitCode = 3;
                lifetime.StopApplication();
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Heartbeat of silo {SiloId} failed; retrying", identity.Id);
            }
        }
    }

    private async Task RefreshViewAsync(CancellationToken cancellationToken)
    {
        var all = await membership.ReadAllAsync(cancellationToken);
        view.Update(all.Where(s => s.Status == SiloStatus.Active).Select(s => s.SiloId).ToArray());
    }

    private SiloLoad CurrentLoad()
    {
        var table = services.GetRequiredService<GrainActivationTable>();
        var worker = services.GetRequiredService<InferenceWorker>();
        var now = DateTimeOffset.UtcNow;
        long tokens = worker.GeneratedTokens;
        double seconds = Math.Max(1e-3, (now - _lastBeat).TotalSeconds);
        double rate = (tokens - _lastTokens) / seconds;
        _lastTokens = tokens;
        _lastBeat = now;
        return new SiloLoad(table.QueuedTurns + worker.QueuedRequests, worker.RunningRequests, table.ActiveConversations, rate, model.IsLoaded);
    }

    public void Dispose() => _stopping.Dispose();
}
