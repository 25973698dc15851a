using System.Text.Json.Nodes;
using Qwen.Inference.Building;
using Qwen.Inference.Models;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>Storage variants of a written checkpoint.</summary>
public enum CheckpointStorage
{
    /// <summary>One model.safetensors.</summary>
    Single,

    /// <summary>Three shards (embedding, first layers, the rest) with model.safetensors.index.json.</summary>
    Sharded,
}

/// <summary>
/// Writes a Hugging Face Qwen2 checkpoint directory the way <c>save_pretrained</c> lays it out:
/// config.json, tokenizer files, generation_config.json and the weights as safetensors.
/// </summary>
public static class HuggingFaceCheckpointWriter
{
    /// <summary>A marker in the written tokenizer_config.json, to prove the converter copies the checkpoint's file.</summary>
    public const string TokenizerConfigMarker = "checkpoint-tokenizer-config";

    /// <summary>eos ids of the written generation_config.json (differs from the builder's default order).</summary>
    public static readonly int[] GenerationEosIds = [151643, 151645];

    /// <param name="tamper">Replaces or (returning null) drops a tensor before it is written, to make bad checkpoints.</param>
    public static void Write(string directory, string configJson, IWeightSource weights, string dtype, CheckpointStorage storage,
        Func<string, RawTensor, RawTensor?>? tamper = null)
    {
        Directory.CreateDirectory(directory);
        var config = QwenConfig.Parse(configJson);
        var configNode = JsonNode.Parse(configJson)!.AsObject();
        configNode["architectures"] = new JsonArray("Qwen2ForCausalLM");
        configNode["torch_dtype"] = dtype == "BF16" ? "bfloat16" : dtype == "F16" ? "float16" : "float32";
        File.WriteAllText(Path.Combine(directory, "config.json"), configNode.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "generation_config.json"),
            new JsonObject { ["eos_token_id"] = new JsonArray(GenerationEosIds.Select(i => (JsonNode)i).ToArray()), ["do_sample"] = false }.ToJsonString());
        File.Copy(Path.Combine(ModelDirectoryBuilder.BundledTokenizerDirectory, "tokenizer.json"), Path.Combine(directory, "tokenizer.json"));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"),
            new JsonObject { ["model_max_length"] = 32768, ["note"] = TokenizerConfigMarker }.ToJsonString());

        var tensors = Qwen2Parameters.For(config).Select(p =>
        {
            var values = new float[p.ElementCount];
            weights.Fill(p.Name, values);
            byte[] bytes = dtype switch
            {
                "F32" => SafetensorsTestWriter.Float32Bytes(values),
                "BF16" => SafetensorsTestWriter.BFloat16Bytes(values),
                "F16" => SafetensorsTestWriter.Float16Bytes(values),
                _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
            };
            var tensor = new RawTensor(p.Name, dtype, p.Shape.Select(d => (long)d).ToArray(), bytes);
            return tamper is null ? tensor : tamper(p.Name, tensor);
        }).OfType<RawTensor>().ToList();

        if (storage == CheckpointStorage.Single)
        {
            SafetensorsTestWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
            return;
        }
        // Shard boundaries: the embedding alone, then layer 0, then everything else.
        string ShardOf(string name) =>
            name.StartsWith("model.embed_tokens", StringComparison.Ordinal) ? "model-00001-of-00003.safetensors"
            : name.StartsWith("model.layers.0.", StringComparison.Ordinal) ? "model-00002-of-00003.safetensors"
            : "model-00003-of-00003.safetensors";
        var weightMap = new JsonObject();
        foreach (var group in tensors.GroupBy(t => ShardOf(t.Name)))
        {
            SafetensorsTestWriter.Write(Path.Combine(directory, group.Key), group);
            foreach (var t in group) weightMap[t.Name] = group.Key;
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => (long)t.Bytes.Length) },
            ["weight_map"] = weightMap,
        };
        File.WriteAllText(Path.Combine(directory, "model.safetensors.index.json"), index.ToJsonString());
    }
}
