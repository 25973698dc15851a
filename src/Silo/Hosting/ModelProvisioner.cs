using Microsoft.Extensions.Options;
using Qwen.Inference;
using Qwen.Inference.Building;
using Qwen.Inference.Models;

namespace Qwen.Silo.Hosting;

/// <summary>
/// Finds the model directory to load: the configured Model:Path, or the synthetic default,
/// built once into the cache (with progress in the log) and reused afterwards.
/// </summary>
public sealed class ModelProvisioner(IOptions<ModelOptions> options, ILogger<ModelProvisioner> logger)
{
    private static readonly SemaphoreSlim BuildGate = new(1, 1);

    public async Task<string> GetModelDirectoryAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!string.IsNullOrWhiteSpace(o.Path))
        {
            logger.LogInformation("Serving the model at {ModelPath}", o.Path);
            return o.Path;
        }
        if (!QwenConfig.Presets.TryGetValue(o.SyntheticPreset, out var config))
            throw new InvalidModelException($"Model:SyntheticPreset '{o.SyntheticPreset}' is not one of {string.Join(", ", QwenConfig.Presets.Keys)}");
        var weightType = o.SyntheticWeights switch
        {
            "int8" => WeightType.Int8,
            "fp32" => WeightType.Fp32,
            _ => throw new InvalidModelException($"Model:SyntheticWeights must be int8 or fp32, not '{o.SyntheticWeights}'"),
        };
        string cache = o.CacheDirectory ?? System.IO.Path.Combine(
            Environment.GetEnvironmentVariable("QWEN_CACHE_DIR") ?? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "qwen-aio"),
            "models");
        // The name says the KV layout, so a model cached before the shared-buffer default is not taken for one.
        string directory = System.IO.Path.Combine(cache, $"{o.SyntheticPreset}-{o.SyntheticWeights}-shared-kv-synthetic");
        logger.LogWarning("No Model:Path configured: serving a SYNTHETIC {Preset} {Weights} model with random weights. " +
                          "Its replies and labels are meaningless text; set Model:Path to a real Qwen model directory for real answers.",
            o.SyntheticPreset, o.SyntheticWeights);
        await BuildGate.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(System.IO.Path.Combine(directory, "onnx", ModelDirectoryBuilder.OnnxFileName))) return directory;
            logger.LogInformation("Building the synthetic model in {ModelPath} (once)", directory);
            int lastPercent = -10;
            await Task.Run(() => ModelDirectoryBuilder.Build(directory, config, new HashWeightSource(config, 42),
                new ModelBuildOptions { WeightType = weightType }, new SynchronousProgress<double>(f =>
                {
                    int percent = (int)(f * 100);
                    if (percent < lastPercent + 10) return;
                    lastPercent = percent;
                    logger.LogInformation("Building the synthetic model: {Percent}%", percent);
                }), cancellationToken), cancellationToken);
            return directory;
        }
        finally
        {
            BuildGate.Release();
        }
    }
}
