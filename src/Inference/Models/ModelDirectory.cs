using System.Text.Json;

namespace Qwen.Inference.Models;

/// <summary>
/// A model directory in the layout of Hugging Face ONNX exports (config.json,
/// generation_config.json, tokenizer files, onnx/*.onnx), resolved and checked.
/// </summary>
public sealed class ModelDirectory
{
    private ModelDirectory(string path, QwenConfig config, string onnxPath, IReadOnlyList<int> eosTokenIds)
    {
        Path = path;
        Config = config;
        OnnxPath = onnxPath;
        EosTokenIds = eosTokenIds;
    }

    public string Path { get; }
    public QwenConfig Config { get; }
    public string OnnxPath { get; }

    /// <summary>End-of-sequence ids from generation_config.json (or config.json).</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    public string TokenizerPath => System.IO.Path.Combine(Path, "tokenizer.json");

    /// <param name="path">The model directory.</param>
    /// <param name="onnxFileName">File under onnx/ to load; by default model.onnx, or the only .onnx file there.</param>
    public static ModelDirectory Open(string path, string? onnxFileName = null)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new InvalidModelException("no model directory given");
        string full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new InvalidModelException($"model directory '{full}' does not exist");
        var config = QwenConfig.Load(System.IO.Path.Combine(full, "config.json"));
        string onnxPath = ResolveOnnx(full, onnxFileName);
        return new ModelDirectory(full, config, onnxPath, ReadEosIds(full, config));
    }

    private static string ResolveOnnx(string directory, string? fileName)
    {
        string onnxDir = System.IO.Path.Combine(directory, "onnx");
        if (fileName is not null)
        {
            string chosen = System.IO.Path.Combine(onnxDir, fileName);
            return File.Exists(chosen) ? chosen : throw new InvalidModelException($"ONNX file '{chosen}' does not exist");
        }
        string[] candidates = Directory.Exists(onnxDir) ? Directory.GetFiles(onnxDir, "*.onnx") : [];
        string preferred = System.IO.Path.Combine(onnxDir, "model.onnx");
        if (candidates.Contains(preferred)) return preferred;
        return candidates.Length switch
        {
            1 => candidates[0],
            0 => throw new InvalidModelException($"no .onnx file in '{onnxDir}'"),
            _ => throw new InvalidModelException(
                $"several .onnx files in '{onnxDir}' ({string.Join(", ", candidates.Select(System.IO.Path.GetFileName))}); choose one with Model:OnnxFile"),
        };
    }

    private static IReadOnlyList<int> ReadEosIds(string directory, QwenConfig config)
    {
        var ids = new List<int>();
        string generationConfig = System.IO.Path.Combine(directory, "generation_config.json");
        if (File.Exists(generationConfig))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(generationConfig));
                if (doc.RootElement.TryGetProperty("eos_token_id", out var eos))
                {
                    if (eos.ValueKind == JsonValueKind.Number) ids.Add(eos.GetInt32());
                    else if (eos.ValueKind == JsonValueKind.Array) ids.AddRange(eos.EnumerateArray().Select(e => e.GetInt32()));
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new InvalidModelException($"generation_config.json is invalid: {e.Message}", e);
            }
        }
        if (ids.Count == 0 && config.EosTokenId is int id) ids.Add(id);
        return ids.Distinct().ToArray();
    }
}
