using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;
using Qwen.Inference.Prompts;

namespace Qwen.Grains.Tests.Support;

/// <summary>
/// A test silo's model as the grains see it: a real <see cref="InferenceWorker"/> on the shared tiny
/// model, built at start for a warm silo and on warm-up for a cold one; conversation replies are watched by the observer.
/// </summary>
internal sealed class TestSiloModel(LoadedModel model, InferenceWorkerOptions options, SiloIdentity silo, bool cold, WorkerCallObserver observer)
    : ISiloModel, IDisposable
{
    private readonly Lock _gate = new();
    private InferenceWorker? _worker = cold ? null : Create(model, options, silo);

    public string State => Volatile.Read(ref _worker) is null ? SiloStatusReport.Cold : SiloStatusReport.Active;

    public InferenceWorker Worker => Volatile.Read(ref _worker)
        ?? throw new GrainCallException(GrainErrorKind.Unavailable, "this silo is cold: its model is not loaded; retry on another silo");

    public IAsyncEnumerable<GenerationEvent> GenerateConversationReplyAsync(string userId, ChatGenerationRequest request,
        CancellationToken cancellationToken)
    {
        var worker = Worker;
        return observer.Watch(userId, silo.Id, request, () => worker.GenerateReplyAsync(request, cancellationToken), cancellationToken);
    }

    public Task WarmUpAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _worker ??= Create(model, options, silo);
        }
        return Task.CompletedTask;
    }

    public void Dispose() => _worker?.Dispose();

    private static InferenceWorker Create(LoadedModel model, InferenceWorkerOptions options, SiloIdentity silo) => new(model, Options.Create(options),
        Options.Create(new SentimentPromptOptions()), Options.Create(new ChatPromptOptions()), silo, NullLogger<InferenceWorker>.Instance);
}
