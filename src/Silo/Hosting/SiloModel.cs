using Microsoft.Extensions.Options;
using Qwen.Grains;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Hosting;

/// <summary>
/// The silo's model and inference worker through the silo's life: loaded at start (a bad model
/// fails the start with its error), or, for a silo started cold, on its first warm-up; refused to
/// new work once the host stops.
/// </summary>
public sealed partial class SiloModel(ModelHost model, IServiceProvider services, IOptions<SiloOptions> options,
    IOptions<SiloClusterOptions> cluster, IHostApplicationLifetime lifetime, ILogger<SiloModel> logger) : ISiloModel, IHostedService, IDisposable
{
    private readonly Lock _gate = new();
    private Task? _warmup;
    private InferenceWorker? _worker;
    private volatile string _state = SiloStatusReport.Cold;

    public string State => _state;

    public InferenceWorker Worker => _state == SiloStatusReport.Active && _worker is { } worker ? worker
        : throw new GrainCallException(GrainErrorKind.Unavailable, _state == SiloStatusReport.Stopping
            ? "this silo is shutting down and takes no new work; retry on another silo"
            : $"this silo is {_state}: its model is not loaded; retry on another silo");

    public IAsyncEnumerable<GenerationEvent> GenerateConversationReplyAsync(string userId, ChatGenerationRequest request,
        CancellationToken cancellationToken) => Worker.GenerateReplyAsync(request, cancellationToken);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => _state = SiloStatusReport.Stopping);
        // A lone silo must serve: only a silo of a real cluster may wait cold.
        if (options.Value.StartCold && cluster.Value.IsClustered)
        {
            LogCold(logger);
            return;
        }
        await WarmUpAsync(cancellationToken);
    }

    public Task WarmUpAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _warmup ??= Task.Run(LoadAsync, CancellationToken.None);
        }
        return _warmup.WaitAsync(cancellationToken);
    }

    private async Task LoadAsync()
    {
        _state = SiloStatusReport.Warming;
        await model.LoadAsync(lifetime.ApplicationStopping);
        // Build the worker (and its engine) now rather than on the first call.
        _worker = ActivatorUtilities.CreateInstance<InferenceWorker>(services, model.Model);
        if (_state == SiloStatusReport.Warming) _state = SiloStatusReport.Active;
        LogActive(logger);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _state = SiloStatusReport.Stopping;
        return Task.CompletedTask;
    }

    public void Dispose() => _worker?.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo started cold: the model loads when the silo is warmed up")]
    private static partial void LogCold(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo active: model loaded, inference worker ready")]
    private static partial void LogActive(ILogger logger);
}
