using Qwen.Grains.Interfaces;

namespace Qwen.Api.Routing;

/// <summary>
/// The inference workers' load snapshots as the Api sees them, one per serving silo (for
/// metrics, the dashboard and autoscaling). Reading them runs no model work.
/// </summary>
public interface IWorkerLoads
{
    /// <summary>One snapshot per active silo that answered; a silo that did not is left out (and logged).</summary>
    Task<IReadOnlyList<WorkerLoad>> ReadAllAsync(CancellationToken cancellationToken);
}

public static class WorkerLoads
{
    /// <summary>Snapshots added up as one worker with silo id "cluster": counts and capacities summed, degraded if any is.</summary>
    public static WorkerLoad Sum(IReadOnlyList<WorkerLoad> loads) => new(
        "cluster",
        string.Join(",", loads.Select(l => l.Scheduling).Distinct()),
        loads.Sum(l => l.Queued),
        loads.Sum(l => l.Running),
        loads.Sum(l => l.BatchSize),
        loads.Sum(l => l.MaxBatchSize),
        loads.Sum(l => l.MaxQueueLength),
        loads.Any(l => l.Degraded),
        loads.Select(l => l.DegradedMaxNewTokens).Where(c => c is not null).Min(),
        loads.Sum(l => l.Steps),
        loads.Sum(l => l.DecodedRows),
        loads.Count == 0 ? 0 : loads.Max(l => l.LastStepMilliseconds),
        loads.Sum(l => l.GeneratedTokens),
        loads.Sum(l => l.Refused),
        loads.Sum(l => l.Cancelled),
        loads.Sum(l => l.Expired));
}

/// <summary>Clustered: each active silo's snapshot over its internal HTTP endpoint, read in parallel.</summary>
public sealed class ClusterWorkerLoads(SiloDirectory directory, SiloClients clients, ILogger<ClusterWorkerLoads> logger) : IWorkerLoads
{
    public Task<IReadOnlyList<WorkerLoad>> ReadAllAsync(CancellationToken cancellationToken) =>
        ReadAllAsync(directory, clients, logger, cancellationToken);

    internal static async Task<IReadOnlyList<WorkerLoad>> ReadAllAsync(SiloDirectory directory, SiloClients clients, ILogger logger,
        CancellationToken cancellationToken)
    {
        var reads = directory.Active.Select(async silo =>
        {
            try
            {
                return await clients.For(silo.Endpoint).GetWorkerLoadAsync(cancellationToken);
            }
            catch (GrainCallException e)
            {
                logger.LogWarning("Load of silo {SiloId} could not be read ({Kind}: {Reason})", silo.SiloId, e.Kind, e.Message);
                return null;
            }
        });
        return (await Task.WhenAll(reads)).OfType<WorkerLoad>().ToArray();
    }
}

/// <summary>Embedded: the one in-process silo's worker.</summary>
public sealed class LocalWorkerLoads(IGrainFactory grains) : IWorkerLoads
{
    public async Task<IReadOnlyList<WorkerLoad>> ReadAllAsync(CancellationToken cancellationToken) =>
        [await grains.GetInferenceWorker().GetLoadAsync(cancellationToken)];
}
