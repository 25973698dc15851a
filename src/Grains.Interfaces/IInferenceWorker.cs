namespace Qwen.Grains.Interfaces;

/// <summary>
/// A silo's inference worker: the one model session of that silo, shared by every request.
/// </summary>
public interface IInferenceWorker : IStatelessWorker
{
    Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken);

    /// <summary>Generates the assistant's next message for a conversation, streamed as text deltas.</summary>
    IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request, CancellationToken cancellationToken);

    /// <summary>The worker's current load: queue, running requests, batch size, limits, degradation.</summary>
    Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken);
}
