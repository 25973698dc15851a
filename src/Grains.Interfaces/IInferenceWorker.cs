namespace Qwen.Grains.Interfaces;

/// <summary>
/// A silo's inference worker: the one model session of that silo, shared by every request. A
/// stateless worker, activated on the calling silo (key 0; the key carries no meaning).
/// </summary>
[Alias("qwen.IInferenceWorker")]
public interface IInferenceWorker : IGrainWithIntegerKey
{
    [Alias("AnalyzeSentiment")]
    Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken);

    /// <summary>Generates the assistant's next message for a conversation, streamed as text deltas.</summary>
    [Alias("GenerateReply")]
    IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request, CancellationToken cancellationToken);

    /// <summary>The worker's current load: queue, running requests, batch size, limits, degradation.</summary>
    [Alias("GetLoad")]
    Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken);
}
