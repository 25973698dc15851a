using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Qwen.Inference.Models;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// Small Hugging Face checkpoints with one defect each, for the error tests. The shape is tiny
/// (vocabulary 512) so writing one takes milliseconds.
/// </summary>
public static class BadCheckpoints
{
    public const string ConfigJson = """
        {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 128, "vocab_size": 512, "max_position_embeddings": 256, "rope_theta": 10000.0,
         "rms_norm_eps": 1e-6, "tie_word_embeddings": true, "model_type": "qwen2"}
        """;

    /// <summary>Every defect, with a fragment the error message must contain.</summary>
    public static IReadOnlyDictionary<string, string> ExpectedMessages { get; } = new Dictionary<string, string>
    {
        ["unsupported-architecture"] = "config.json: architecture 'LlamaForCausalLM' is not supported (expected 'Qwen2ForCausalLM'",
        ["rope-scaling"] = "config.json: rope_scaling {\"type\":\"yarn\",\"factor\":4} is not supported",
        ["missing-tensor"] = "missing tensor 'model.layers.1.mlp.down_proj.weight' (expected shape [64, 128])",
        ["missing-untied-lm-head"] = "missing tensor 'lm_head.weight' (expected shape [512, 64]); config.json says tie_word_embeddings is false",
        ["shape-mismatch"] = "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [64, 64] but config.json implies [32, 64]",
        ["unsupported-dtype"] = "tensor 'model.norm.weight' has unsupported dtype I8 (supported: F32, F16, BF16)",
        ["truncated-data"] = "model.safetensors: tensor 'model.norm.weight' data_offsets [",
        ["header-out-of-range"] = "model.safetensors: header length 1000000 runs past the end of the file (",
        ["shorter-than-header-length"] = "model.safetensors: truncated file (5 bytes; a safetensors file starts with an 8-byte header length)",
        ["header-not-json"] = "model.safetensors: header is not valid JSON",
        ["index-not-json"] = "model.safetensors.index.json is not valid JSON",
        ["index-missing-shard"] = "model.safetensors.index.json names shard 'model-00002-of-00003.safetensors', which is not in '",
        ["index-wrong-shard"] = "model.safetensors.index.json maps tensor 'model.norm.weight' to 'model-00001-of-00003.safetensors', but that file has no such tensor",
        ["index-escapes-directory"] = "model.safetensors.index.json: tensor 'model.norm.weight' maps to '../model.safetensors', not a .safetensors file name",
        ["no-weights"] = "no model.safetensors and no model.safetensors.index.json in '",
        ["no-config"] = "config.json not found at '",
    };

    public static IEnumerable<object[]> Names => ExpectedMessages.Keys.Select(k => new object[] { k });

    /// <summary>Writes the checkpoint with the named defect into <paramref name="directory"/>.</summary>
    public static void Write(string directory, string defect)
    {
        string config = ConfigJson;
        Func<string, RawTensor, RawTensor?>? tamper = null;
        var storage = CheckpointStorage.Single;
        switch (defect)
        {
            case "unsupported-architecture":
                config = WithField(config, "architectures", new JsonArray("LlamaForCausalLM"));
                break;
            case "rope-scaling":
                config = WithField(config, "rope_scaling", new JsonObject { ["type"] = "yarn", ["factor"] = 4 });
                break;
            case "missing-tensor":
                tamper = (name, t) => name == "model.layers.1.mlp.down_proj.weight" ? null : t;
                break;
            case "missing-untied-lm-head":
                config = WithField(config, "tie_word_embeddings", false);
                tamper = (name, t) => name == "lm_head.weight" ? null : t;
                break;
            case "shape-mismatch":
                tamper = (name, t) => name == "model.layers.0.self_attn.k_proj.weight"
                    ? t with { Shape = [64, 64], Bytes = new byte[64 * 64 * 4] }
                    : t;
                break;
            case "unsupported-dtype":
                tamper = (name, t) => name == "model.norm.weight" ? t with { Dtype = "I8", Bytes = new byte[64] } : t;
                break;
            case "index-not-json":
            case "index-missing-shard":
            case "index-wrong-shard":
            case "index-escapes-directory":
                storage = CheckpointStorage.Sharded;
                break;
        }

        var source = new HashWeightSource(QwenConfig.Parse(config.Replace("LlamaForCausalLM", "Qwen2ForCausalLM")), 3);
        HuggingFaceCheckpointWriter.Write(directory, config, source, "F32", storage, tamper);
        if (defect == "unsupported-architecture" || defect == "rope-scaling")
            File.WriteAllText(Path.Combine(directory, "config.json"), config);

        string single = Path.Combine(directory, "model.safetensors");
        string index = Path.Combine(directory, "model.safetensors.index.json");
        switch (defect)
        {
            case "truncated-data":
                // model.norm.weight is the last tensor written; cut into its bytes.
                using (var file = File.OpenWrite(single)) file.SetLength(file.Length - 100);
                break;
            case "header-out-of-range":
                using (var file = File.OpenWrite(single))
                {
                    Span<byte> length = stackalloc byte[8];
                    BinaryPrimitives.WriteUInt64LittleEndian(length, 1_000_000);
                    file.Write(length);
                    file.SetLength(4096);
                }
                break;
            case "shorter-than-header-length":
                File.WriteAllBytes(single, [1, 2, 3, 4, 5]);
                break;
            case "header-not-json":
                using (var file = File.OpenWrite(single))
                {
                    file.Position = 8;
                    file.Write("not json"u8);
                }
                break;
            case "index-not-json":
                File.WriteAllText(index, "{\"weight_map\": ");
                break;
            case "index-missing-shard":
                File.Delete(Path.Combine(directory, "model-00002-of-00003.safetensors"));
                break;
            case "index-wrong-shard":
                File.WriteAllText(index, File.ReadAllText(index).Replace(
                    "\"model.norm.weight\":\"model-00003-of-00003.safetensors\"", "\"model.norm.weight\":\"model-00001-of-00003.safetensors\""));
                break;
            case "index-escapes-directory":
                File.WriteAllText(index, File.ReadAllText(index).Replace(
                    "\"model.norm.weight\":\"model-00003-of-00003.safetensors\"", "\"model.norm.weight\":\"../model.safetensors\""));
                break;
            case "no-weights":
                File.Delete(single);
                break;
            case "no-config":
                File.Delete(Path.Combine(directory, "config.json"));
                break;
        }
    }

    private static string WithField(string json, string name, JsonNode value)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node[name] = value;
        return node.ToJsonString();
    }
}
