using Microsoft.Extensions.Options;
using Qwen.Grains;
using Qwen.Inference.Engine;

namespace Qwen.Silo.Hosting;

/// <summary>Loads the silo's one model (provisioning it first if needed) and hands it to everything that uses it.</summary>
public sealed class ModelHost(ModelProvisioner provisioner, IOptions<ModelOptions> options, ILogger<ModelHost> logger) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile LoadedModel? _model;

    public bool IsLoaded => _model is not null;

    /// <summary>The loaded model; loads it on first use (the grain runtime's services need it when they are created).</summary>
    public LoadedModel Model => _model ?? LoadBlocking();

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_model is not null) return;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_model is not null) return;
            string directory = await provisioner.GetModelDirectoryAsync(cancellationToken);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            _model = await Task.Run(() => LoadedModel.Open(directory, new DecoderSessionOptions { IntraOpThreads = options.Value.Threads }), cancellationToken);
            logger.LogInformation("Model {ModelPath} loaded in {LoadMs} ms", directory, watch.ElapsedMilliseconds);
        }
        finally
        {
            _gate.Release();
        }
    }

    private LoadedModel LoadBlocking()
    {
        LoadAsync(CancellationToken.None).GetAwaiter().GetResult();
        return _model!;
    }

    public void Dispose()
    {
        _model?.Dispose();
        _gate.Dispose();
    }
}
