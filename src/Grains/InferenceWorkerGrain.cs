using Orleans.Concurrency;
using Qwen.Grains.Interfaces;

namespace Qwen.Grains;

/// <summary>
/// The grain face of the silo's <see cref="InferenceWorker"/>: a stateless worker, so each call runs
/// on the calling silo, and reentrant, so concurrent requests reach the engine together and
/// continuous batching can put them into shared model steps. One activation per silo: each MoveNext of
/// a streamed reply is its own call and must reach the activation holding that enumerator (with more
/// activations a busy silo answered EnumerationAbortedException); reentrancy already gives the concurrency.
/// </summary>
[StatelessWorker(1), Reentrant]
public sealed class InferenceWorkerGrain(ISiloModel silo) : Grain, IInferenceWorker
{
    public Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken) =>
        silo.Worker.AnalyzeSentimentAsync(request, cancellationToken);

    public IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request, CancellationToken cancellationToken) =>
        silo.Worker.GenerateReplyAsync(request, cancellationToken);

    public Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken) => Task.FromResult(silo.Worker.Load());
}
