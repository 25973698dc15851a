using System.Text.Json;

namespace Qwen.Inference.Checkpoints;

/// <summary>
/// <c>model.safetensors.index.json</c> of a sharded checkpoint: which shard file holds each
/// tensor (<c>weight_map</c>).
/// </summary>
public sealed class SafetensorsIndex
{
    public const string FileName = "model.safetensors.index.json";

    private SafetensorsIndex(IReadOnlyDictionary<string, string> weightMap) => WeightMap = weightMap;

    /// <summary>Tensor name → shard file name (relative to the checkpoint directory).</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }

    /// <summary>The distinct shard files, in order of first mention.</summary>
    public IReadOnlyList<string> Shards => WeightMap.Values.Distinct(StringComparer.Ordinal).ToArray();

    public static SafetensorsIndex Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidModelException($"{FileName} not found at '{path}'");
        return Parse(File.ReadAllText(path));
    }

    public static SafetensorsIndex Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidModelException($"{FileName}: no 'weight_map' object");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                string shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : "";
                // Shard names are plain file names next to the index; anything else could escape the directory.
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || !shard.EndsWith(".safetensors", StringComparison.Ordinal))
                    throw new InvalidModelException($"{FileName}: tensor '{entry.Name}' maps to '{entry.Value}', not a .safetensors file name");
                weightMap[entry.Name] = shard;
            }
            if (weightMap.Count == 0) throw new InvalidModelException($"{FileName}: 'weight_map' is empty");
            return new SafetensorsIndex(weightMap);
        }
        catch (JsonException e)
        {
            throw new InvalidModelException($"{FileName} is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine})", e);
        }
    }
}
