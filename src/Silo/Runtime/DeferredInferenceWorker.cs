using Microsoft.Extensions.DependencyInjection;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Runtime;

/// <summary>
/// The silo's inference worker, resolved at its first call rather than when the grain runtime is
/// built: the worker needs the loaded model, and a cold silo builds its runtime before loading it.
/// </summary>
internal sealed class DeferredInferenceWorker(IServiceProvider services) : IInferenceWorker
{
    private readonly Lazy<IInferenceWorker> _worker = new(services.GetRequiredService<IInferenceWorker>);

    public Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken) =>
        _worker.Value.AnalyzeSentimentAsync(request, cancellationToken);

    public IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request, CancellationToken cancellationToken) =>
        _worker.Value.GenerateReplyAsync(request, cancellationToken);

    public Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken) => _worker.Value.GetLoadAsync(cancellationToken);
}
