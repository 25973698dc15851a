using System.Runtime.CompilerServices;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Routing;

/// <summary>
/// Sentiment and stateless chat calls go to the least loaded active silo (queue plus running
/// requests, as last published); a silo that is full or unreachable is skipped for the next one.
/// A streamed generation moves on only before its first event: after that the client has text.
/// </summary>
internal sealed class RoutedInferenceWorker(SiloDirectory directory, SiloClients clients, RoutingOptions options, ILogger logger)
    : IInferenceWorker
{
    public async Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken)
    {
        if (directory.Active.Count == 0) await directory.TryRefreshAsync(cancellationToken);
        var tried = new HashSet<string>();
        GrainCallException? last = null;
        for (int attempt = 1; attempt <= options.MaxAttempts; attempt++)
        {
            var silo = LeastLoaded(tried);
            if (silo is null) break;
            tried.Add(silo.SiloId);
            try
            {
                return await clients.For(silo.Endpoint).AnalyzeSentimentAsync(request, cancellationToken);
            }
            catch (GrainCallException e) when (e.IsRetryable)
            {
                logger.LogWarning("Sentiment: silo {SiloId} could not serve ({Kind}: {Reason}); trying another", silo.SiloId, e.Kind, e.Message);
                last = e;
            }
        }
        throw last ?? new GrainCallException(GrainErrorKind.Unavailable, "no active silo can serve sentiment requests now");
    }

    /// <summary>The cluster's workers as one: every active silo's snapshot summed (silo id "cluster").</summary>
    public async Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken)
    {
        var loads = await ClusterWorkerLoads.ReadAllAsync(directory, clients, logger, cancellationToken);
        return WorkerLoads.Sum(loads);
    }

    public async IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (directory.Active.Count == 0) await directory.TryRefreshAsync(cancellationToken);
        var tried = new HashSet<string>();
        GrainCallException? last = null;
        for (int attempt = 1; attempt <= options.MaxAttempts; attempt++)
        {
            var silo = LeastLoaded(tried);
            if (silo is null) break;
            tried.Add(silo.SiloId);
            var stream = clients.For(silo.Endpoint).GenerateAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                bool more;
                try
                {
                    more = await stream.MoveNextAsync();
                }
                catch (GrainCallException e) when (e.IsRetryable)
                {
                    logger.LogWarning("Chat generation: silo {SiloId} could not serve ({Kind}: {Reason}); trying another", silo.SiloId, e.Kind, e.Message);
                    last = e;
                    continue;
                }
                while (more)
                {
                    yield return stream.Current;
                    more = await stream.MoveNextAsync();
                }
                yield break;
            }
            finally
            {
                await stream.DisposeAsync();
            }
        }
        throw last ?? new GrainCallException(GrainErrorKind.Unavailable, "no active silo can serve chat generation now");
    }

    private Qwen.Cluster.Membership.SiloRecord? LeastLoaded(HashSet<string> tried) => directory.Active
        .Where(s => !tried.Contains(s.SiloId))
        .OrderBy(s => s.Load.QueueLength + s.Load.ActiveRequests)
        .ThenBy(_ => Random.Shared.Next())
        .FirstOrDefault();
}
