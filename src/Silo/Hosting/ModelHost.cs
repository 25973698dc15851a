using Microsoft.Extensions.Options;
using Qwen.Grains;
using Qwen.Inference.Engine;

namespace Qwen.Silo.Hosting;

/// <summary>
/// The silo's one model (provisioned first if needed), loaded explicitly by <see cref="LoadAsync"/>:
/// at start for a warm silo, on warm-up for a cold one. Nothing may use it before then.
/// </summary>
public sealed class ModelHost(ModelProvisioner provisioner, IOptions<ModelOptions> options, ILogger<ModelHost> logger) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile LoadedModel? _model;

    public bool IsLoaded => _model is not null;

    /// <summary>Completes once the model is loaded (never, for a cold silo that is not warmed up).</summary>
    public Task WhenLoaded => _loaded.Task;

    /// <summary>The loaded model.</summary>
    /// <exception cref="InvalidOperationException">The model is not loaded yet (a cold silo before its warm-up).</exception>
    public LoadedModel Model => _model ?? throw new InvalidOperationException("the silo's model is not loaded yet (cold silo): warm it up first");

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_model is not null) return;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_model is not null) return;
            string directory = await provisioner.GetModelDirectoryAsync(cancellationToken);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            _model = await Task.Run(() => LoadedModel.Open(directory, new DecoderSessionOptions
            {
                IntraOpThreads = options.Value.Threads,
                FlushDenormals = options.Value.FlushDenormals,
            }), cancellationToken);
            logger.LogInformation("Model {ModelPath} loaded in {LoadMs} ms", directory, watch.ElapsedMilliseconds);
            _loaded.TrySetResult();
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _model?.Dispose();
        _gate.Dispose();
    }
}
