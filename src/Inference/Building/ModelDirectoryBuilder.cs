using System.Text.Json;
using System.Text.Json.Nodes;
using Qwen.Inference.Models;
using Qwen.Inference.Onnx;

namespace Qwen.Inference.Building;

/// <summary>
/// Writes a complete model directory in the layout of Hugging Face ONNX exports:
/// config.json, generation_config.json, tokenizer files and onnx/model.onnx (+ its
/// external data file).
/// </summary>
public static class ModelDirectoryBuilder
{
    public const string OnnxFileName = "model.onnx";

    /// <summary>Where the build places Qwen's tokenizer files, next to the assemblies.</summary>
    // Beside this assembly, which is not always in the application folder (the embedded silo loads it from its own).
    public static string BundledTokenizerDirectory => Path.Combine(Path.GetDirectoryName(typeof(ModelDirectoryBuilder).Assembly.Location)!, "tokenizer", "qwen");

    public static void Build(string outputDirectory, QwenConfig config, IWeightSource weights, ModelBuildOptions options,
        IProgress<double>? progress = null, CancellationToken cancellationToken = default) =>
        Build(outputDirectory, config, weights, options, [], progress, cancellationToken);

    /// <param name="companionFiles">
    /// Files (config.json, tokenizer files, ...) copied into the output under their own names,
    /// replacing the generated ones; used when converting a real checkpoint.
    /// </param>
    public static void Build(string outputDirectory, QwenConfig config, IWeightSource weights, ModelBuildOptions options,
        IReadOnlyList<string> companionFiles, IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        config.Validate();
        options = options with { KvLayout = options.ResolveKvLayout(config) };
        if (options.Int8KvCache && (options.Float16KvCache || options.KvLayout != KvLayout.SharedBuffer))
            throw new ArgumentException("an int8 KV cache is for the shared-buffer layout and excludes a float16 one");
        string onnxDirectory = Path.Combine(outputDirectory, "onnx");
        Directory.CreateDirectory(onnxDirectory);

        File.WriteAllText(Path.Combine(outputDirectory, "config.json"), config.ToJson());
        File.WriteAllText(Path.Combine(outputDirectory, "generation_config.json"), JsonSerializer.Serialize(new
        {
            bos_token_id = config.BosTokenId,
            eos_token_id = new[] { 151645, 151643 },
            pad_token_id = 151643,
            do_sample = false,
        }, new JsonSerializerOptions { WriteIndented = true }));
        File.Copy(BundledTokenizerFile("tokenizer.json"), Path.Combine(outputDirectory, "tokenizer.json"), overwrite: true);
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(BundledTokenizerFile("tokenizer_config.json")))!;
        tokenizerConfig["chat_template"] = Qwen2ChatTemplate.Jinja;
        File.WriteAllText(Path.Combine(outputDirectory, "tokenizer_config.json"), tokenizerConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (string file in companionFiles) File.Copy(file, Path.Combine(outputDirectory, Path.GetFileName(file)), overwrite: true);

        // An int8 KV cache's scales come from a float32-KV twin of the model: the first half of the progress.
        KvCacheScales? kvScales = options.Int8KvCache
            ? KvCacheCalibration.Calibrate(config, weights, options, new SynchronousProgress<double>(f => progress?.Report(f / 2)), cancellationToken)
            : null;
        double done = kvScales is null ? 0 : 0.5;

        string modelPath = Path.Combine(onnxDirectory, OnnxFileName);
        string tempModel = modelPath + ".partial";
        using (var writer = new OnnxGraphWriter(modelPath + "_data"))
        {
            new Qwen2GraphBuilder(config, weights, options, writer, new SynchronousProgress<double>(f =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(done + f * (1 - done));
            }), kvScales).Build();
            writer.Save(tempModel, new Dictionary<string, string>
            {
                ["qwen.weight_type"] = options.WeightType.ToString().ToLowerInvariant(),
                ["qwen.kv_cache_type"] = options.Int8KvCache ? "int8" : options.Float16KvCache ? "float16" : "float32",
                ["qwen.kv_layout"] = options.KvLayout == KvLayout.SharedBuffer ? "shared-buffer" : "standard",
            });
        }
        // The .onnx file appears only when complete, so an interrupted build never looks loadable.
        File.Move(tempModel, modelPath, overwrite: true);
    }

    private static string BundledTokenizerFile(string file)
    {
        string source = Path.Combine(BundledTokenizerDirectory, file);
        return File.Exists(source) ? source : throw new FileNotFoundException($"Qwen tokenizer file missing at '{source}'; rebuild the project to fetch it.", source);
    }
}
