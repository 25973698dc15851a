using Microsoft.Extensions.Options;
using Qwen.Cluster.Membership;
using Qwen.Grains;
using Qwen.Grains.Interfaces;
using Qwen.Silo.Runtime;

namespace Qwen.Silo.Hosting;

/// <summary>
/// A silo's life in the cluster: register (cold, or joining), heartbeat with load figures from
/// then on (declaring stale silos dead on the way), load the model and become active — at start,
/// or when a cold silo is warmed up; on shutdown, leave: stop taking work, drain in-flight turns,
/// then mark itself dead.
/// </summary>
public sealed class SiloLifecycle(
    IMembershipTable membership,
    MembershipView view,
    ModelHost model,
    SiloIdentity identity,
    SiloEndpoint endpoint,
    SiloStartMode startMode,
    IServiceProvider services,
    IOptions<SiloOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<SiloLifecycle> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _warmupCancel = new();
    private readonly Lock _warmupGate = new();
    private readonly TaskCompletionSource _serverStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _warmup;
    private Task? _heartbeats;
    private bool _registered;
    private long _lastTokens;
    private DateTimeOffset _lastBeat = DateTimeOffset.UtcNow;

    /// <summary>Registered, model loaded and serving (not cold, not joining, not leaving).</summary>
    public bool IsActive { get; private set; }

    /// <summary>Registered cold and not warmed up yet.</summary>
    public bool IsCold => _registered && _warmup is null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => _serverStarted.TrySetResult());
        var now = DateTimeOffset.UtcNow;
        var status = startMode.Cold ? SiloStatus.Cold : SiloStatus.Joining;
        await membership.RegisterAsync(new SiloRecord(identity.Id, endpoint.Url, status, SiloLoad.Idle, now, now), cancellationToken);
        _registered = true;
        logger.LogInformation("Silo {SiloId} registered as {Status} at {Endpoint}", identity.Id, status, endpoint.Url);
        // Heartbeats start now, so a long model load (or a long cold wait) never looks like a dead silo.
        _heartbeats = Task.Run(() => HeartbeatLoopAsync(_stopping.Token), CancellationToken.None);
        if (startMode.Cold) return;
        // Load before the server starts (a bad model fails the start with its error), but become
        // active only once the server listens: the Api routes to a silo as soon as it is active.
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _warmupCancel.Token);
            await model.LoadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // Declared dead while loading (it already asked the host to stop, exit code 3): stop, don't crash.
            return;
        }
        _ = WarmUpAsync();
    }

    /// <summary>
    /// Loads the model and makes the silo active; the first call starts it, later calls share it.
    /// Runs to completion even if the caller stops waiting; a failure stops the silo (exit code 1).
    /// </summary>
    public Task WarmUpAsync()
    {
        lock (_warmupGate)
        {
            return _warmup ??= Task.Run(RunWarmUpAsync, CancellationToken.None);
        }
    }

    private async Task RunWarmUpAsync()
    {
        var ct = _warmupCancel.Token;
        try
        {
            await _serverStarted.Task.WaitAsync(ct);
            if (startMode.Cold)
            {
                await membership.SetStatusAsync(identity.Id, SiloStatus.Joining, ct);
                logger.LogInformation("Silo {SiloId} warming up: loading the model", identity.Id);
            }
            await model.LoadAsync(ct);
            // Build the worker (and its engine) now rather than on the first call.
            _ = services.GetRequiredService<IGrainFactory>();
            await membership.HeartbeatAsync(identity.Id, CurrentLoad(), ct);
            await membership.SetStatusAsync(identity.Id, SiloStatus.Active, ct);
            await RefreshViewAsync(ct);
            IsActive = true;
            logger.LogInformation("Silo {SiloId} active", identity.Id);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (SiloDeclaredDeadException e)
        {
            StopAsDeclaredDead(e);
            throw;
        }
        catch (Exception e)
        {
            // Nobody awaits the warm-up to the end: stop here rather than linger unusable.
            logger.LogCritical(e, "Silo {SiloId} could not warm up; stopping", identity.Id);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            throw;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_registered) return;
        _registered = false;
        bool wasActive = IsActive;
        IsActive = false;
        await _warmupCancel.CancelAsync();
        if (wasActive)
        {
            logger.LogInformation("Silo {SiloId} leaving: draining in-flight turns", identity.Id);
            try
            {
                await membership.SetStatusAsync(identity.Id, SiloStatus.Leaving, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not mark silo {SiloId} as leaving", identity.Id);
            }
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(options.Value.DrainTimeout);
            await services.GetRequiredService<GrainActivationTable>().StopAcceptingAsync(drain.Token);
        }
        await _stopping.CancelAsync();
        if (_heartbeats is not null) await _heartbeats.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_warmup is not null) await _warmup.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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
                StopAsDeclaredDead(e);
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Heartbeat of silo {SiloId} failed; retrying", identity.Id);
            }
        }
    }

    // The cluster has moved this silo's users elsewhere; serving on would fork them. A supervisor
    // (systemd's Restart=) starts it again, and it rejoins as a new registration.
    private void StopAsDeclaredDead(SiloDeclaredDeadException e)
    {
        logger.LogCritical(e, "Silo {SiloId} was declared dead by the cluster; stopping", identity.Id);
        IsActive = false;
        Environment.ExitCode = 3;
        lifetime.StopApplication();
    }

    private async Task RefreshViewAsync(CancellationToken cancellationToken)
    {
        var all = await membership.ReadAllAsync(cancellationToken);
        view.Update(all.Where(s => s.Status == SiloStatus.Active && s.Load.ModelLoaded).Select(s => s.SiloId).ToArray());
    }

    private SiloLoad CurrentLoad()
    {
        if (!model.IsLoaded) return SiloLoad.Idle;
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

    public void Dispose()
    {
        _stopping.Dispose();
        _warmupCancel.Dispose();
    }
}

/// <summary>Whether this silo starts cold (Silo:StartCold in a clustered silo; never in the embedded mode).</summary>
public sealed record SiloStartMode(bool Cold);
