using System.Text.Json;
using Qwen.Inference.Models;

namespace Qwen.Inference.Checkpoints;

/// <summary>
/// A Hugging Face Qwen2-family checkpoint directory (<c>config.json</c> plus
/// <c>model.safetensors</c>, or shards listed by <c>model.safetensors.index.json</c>) as a
/// weight source. Opening checks everything the build will read — architecture, every
/// expected tensor's presence, dtype, shape and byte range — so a bad checkpoint fails before
/// any output is written.
/// </summary>
public sealed class HuggingFaceCheckpoint : IWeightSource, IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string SupportedArchitecture = "Qwen2ForCausalLM";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, (SafetensorsFile File, SafetensorsTensor Tensor)> _parameters;

    private HuggingFaceCheckpoint(string directory, QwenConfig config, List<SafetensorsFile> files,
        Dictionary<string, (SafetensorsFile, SafetensorsTensor)> parameters)
    {
        Directory = directory;
        Config = config;
        _files = files;
        _parameters = parameters;
    }

    public string Directory { get; }
    public QwenConfig Config { get; }

    /// <summary>The safetensors files the weights come from.</summary>
    public IReadOnlyList<string> WeightFiles => _files.Select(f => f.Path).ToArray();

    /// <summary>The stored element type of each parameter the model uses.</summary>
    public IReadOnlyDictionary<string, SafetensorsDtype> ParameterDtypes =>
        _parameters.ToDictionary(p => p.Key, p => p.Value.Tensor.Dtype!.Value);

    public static HuggingFaceCheckpoint Open(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new InvalidModelException("no checkpoint directory given");
        string full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full)) throw new InvalidModelException($"checkpoint directory '{full}' does not exist");
        QwenConfig config = ReadConfig(Path.Combine(full, "config.json"));

        var files = new List<SafetensorsFile>();
        try
        {
            var located = LocateTensors(full, files);
            var parameters = new Dictionary<string, (SafetensorsFile, SafetensorsTensor)>(StringComparer.Ordinal);
            foreach (Qwen2Parameter expected in Qwen2Parameters.For(config))
            {
                if (!located.TryGetValue(expected.Name, out var found))
                    throw new InvalidModelException(
                        $"missing tensor '{expected.Name}' (expected shape [{string.Join(", ", expected.Shape)}])" +
                        (expected.Name == "lm_head.weight" ? "; config.json says tie_word_embeddings is false, so the checkpoint needs its own lm_head" : ""));
                SafetensorsTensor tensor = found.Tensor;
                if (tensor.Dtype is null)
                    throw new InvalidModelException(
                        $"tensor '{expected.Name}' has unsupported dtype {tensor.DtypeName} (supported: F32, F16, BF16)");
                if (!tensor.Shape.SequenceEqual(expected.Shape.Select(d => (long)d)))
                    throw new InvalidModelException(
                        $"tensor '{expected.Name}' has shape {tensor.ShapeText} but config.json implies [{string.Join(", ", expected.Shape)}]");
                parameters[expected.Name] = found;
            }
            return new HuggingFaceCheckpoint(full, config, files, parameters);
        }
        catch
        {
            foreach (var file in files) file.Dispose();
            throw;
        }
    }

    public void Fill(string name, Span<float> destination)
    {
        if (!_parameters.TryGetValue(name, out var entry))
            throw new ArgumentException($"Unknown Qwen2 parameter '{name}'.", nameof(name));
        entry.File.Read(name, destination);
    }

    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }

    /// <summary>Parses config.json, refusing architectures and features the Qwen2 graph does not compute.</summary>
    private static QwenConfig ReadConfig(string path)
    {
        if (!File.Exists(path)) throw new InvalidModelException($"config.json not found at '{path}'");
        string json = File.ReadAllText(path);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidModelException("config.json is not a JSON object");
            if (root.TryGetProperty("architectures", out var architectures) && architectures.ValueKind == JsonValueKind.Array)
            {
                string[] names = architectures.EnumerateArray().Select(a => a.ToString()).ToArray();
                if (!names.Contains(SupportedArchitecture))
                    throw new InvalidModelException(
                        $"config.json: architecture {string.Join(", ", names.Select(n => $"'{n}'"))} is not supported (expected '{SupportedArchitecture}', the Qwen1.5 / Qwen2 / Qwen2.5 family)");
            }
            else if (!root.TryGetProperty("model_type", out var modelType) || modelType.ToString() != "qwen2")
            {
                throw new InvalidModelException($"config.json: no 'architectures' and no model_type 'qwen2'; expected a {SupportedArchitecture} checkpoint");
            }
            if (root.TryGetProperty("rope_scaling", out var ropeScaling) && ropeScaling.ValueKind != JsonValueKind.Null)
                throw new InvalidModelException($"config.json: rope_scaling {ropeScaling.GetRawText()} is not supported (only plain rotary embeddings)");
            if (root.TryGetProperty("use_sliding_window", out var sliding) && sliding.ValueKind == JsonValueKind.True)
                throw new InvalidModelException("config.json: use_sliding_window true is not supported (the graph attends to the whole context)");
        }
        catch (JsonException e)
        {
            throw new InvalidModelException($"config.json is not valid JSON: {e.Message}", e);
        }
        return QwenConfig.Parse(json);
    }

    /// <summary>Opens the single file or every shard of the index, and maps tensor names to where they are stored.</summary>
    private static Dictionary<string, (SafetensorsFile File, SafetensorsTensor Tensor)> LocateTensors(string directory, List<SafetensorsFile> opened)
    {
        var located = new Dictionary<string, (SafetensorsFile, SafetensorsTensor)>(StringComparer.Ordinal);
        string indexPath = Path.Combine(directory, SafetensorsIndex.FileName);
        if (File.Exists(indexPath))
        {
            var index = SafetensorsIndex.Load(indexPath);
            var byShard = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (string shard in index.Shards)
            {
                string shardPath = Path.Combine(directory, shard);
                if (!File.Exists(shardPath))
                    throw new InvalidModelException($"{SafetensorsIndex.FileName} names shard '{shard}', which is not in '{directory}'");
                var file = SafetensorsFile.Open(shardPath);
                opened.Add(file);
                byShard[shard] = file;
            }
            foreach (var (name, shard) in index.WeightMap)
            {
                var file = byShard[shard];
                if (!file.Tensors.TryGetValue(name, out var tensor))
                    throw new InvalidModelException($"{SafetensorsIndex.FileName} maps tensor '{name}' to '{shard}', but that file has no such tensor");
                located[name] = (file, tensor);
            }
            return located;
        }

        string single = Path.Combine(directory, SingleFileName);
        if (!File.Exists(single))
            throw new InvalidModelException($"no {SingleFileName} and no {SafetensorsIndex.FileName} in '{directory}'");
        var only = SafetensorsFile.Open(single);
        opened.Add(only);
        foreach (var (name, tensor) in only.Tensors) located[name] = (only, tensor);
        return located;
    }
}
