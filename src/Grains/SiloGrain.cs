using Orleans.Concurrency;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Placement;

namespace Qwen.Grains;

/// <summary>One silo's door: placed on the silo its key names; answers with that silo's model and worker.</summary>
[SiloKeyedPlacement, Reentrant]
public sealed class SiloGrain(ISiloModel silo, ConversationActivity conversations, SiloIdentity identity) : Grain, ISiloGrain
{
    public Task<SiloStatusReport> GetStatusAsync(CancellationToken cancellationToken)
    {
        string state = silo.State;
        WorkerLoad? load = state == SiloStatusReport.Active ? silo.Worker.Load() : null;
        // On Linux the working set is the resident set size (VmRSS).
        var activity = new SiloActivity(conversations.Active, conversations.WaitingTurns, conversations.RunningTurns, Environment.WorkingSet);
        return Task.FromResult(new SiloStatusReport(identity.Id, this.GetPrimaryKeyString(), state, load, activity));
    }

    // Through the stateless worker grain, which Orleans activates on this silo (a one-shot call, unlike a streamed reply).
    public Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken) =>
        GrainFactory.GetGrain<IInferenceWorker>(0).AnalyzeSentimentAsync(request, cancellationToken);

    public IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request, CancellationToken cancellationToken) =>
        silo.Worker.GenerateReplyAsync(request, cancellationToken);

    public Task WarmUpAsync(CancellationToken cancellationToken) => silo.WarmUpAsync(cancellationToken);
}
