using Qwen.Grains.Interfaces;

namespace Qwen.Api.Cluster;

/// <summary>
/// Chooses which silo's worker serves a stateless request: the least busy active silo, and for
/// sentiment the next one when a silo refuses (full or stopping). A cluster where every silo
/// refuses answers Overloaded (429). Conversations do not come here: Orleans places them.
/// </summary>
public sealed partial class InferenceRouter(SiloDirectory directory, IGrainFactory grains, ILogger<InferenceRouter> logger)
{
    public async Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken)
    {
        var silos = ActiveSilos();
        GrainCallException? refused = null;
        foreach (var silo in silos)
        {
            try
            {
                return await Silo(silo).AnalyzeSentimentAsync(request, cancellationToken);
            }
            catch (GrainCallException e) when (e.Kind is GrainErrorKind.Overloaded or GrainErrorKind.Unavailable)
            {
                refused = refused?.Kind == GrainErrorKind.Overloaded ? refused : e;
                LogRefused(logger, silo.SiloId, e.Kind, e.Message);
            }
            catch (Exception e) when (Endpoints.ApiErrors.IsSiloLost(e) && !cancellationToken.IsCancellationRequested)
            {
                // Gone since the last poll (killed, or its link cut): the next silo serves.
                refused ??= new GrainCallException(GrainErrorKind.Unavailable, $"silo {silo.SiloId} is unreachable: {e.Message}", e);
            }
        }
        throw refused!;
    }

    /// <summary>A reply for a conversation given whole (nothing stored), from the least busy silo.</summary>
    public IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request, CancellationToken cancellationToken)
    {
        return Silo(ActiveSilos()[0]).GenerateReplyAsync(request, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} could not serve ({Kind}): {Reason}; trying the next")]
    private static partial void LogRefused(ILogger logger, string siloId, GrainErrorKind kind, string reason);

    private IReadOnlyList<SiloView> ActiveSilos()
    {
        var silos = directory.Candidates;
        return silos.Count > 0 ? silos
            : throw new GrainCallException(GrainErrorKind.Unavailable, "no silo with a loaded model is active in the cluster; retry shortly");
    }

    private ISiloGrain Silo(SiloView silo) => grains.GetGrain<ISiloGrain>(SiloGrainKey.For(silo.Address));
}
