using FluentAssertions;
using Qwen.Inference.Checkpoints;
using Qwen.Inference.Models;
using Xunit;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// config.json files as the official Qwen repositories publish them (every field they carry,
/// with the shape shrunk so the weights stay small) open as checkpoints.
/// </summary>
public sealed class OfficialConfigTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("qwen-hf-config-").FullName;

    /// <summary>The field set of Qwen/Qwen2.5-0.5B-Instruct's config.json.</summary>
    private const string Qwen25Style = """
        {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
         "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 96,
         "max_position_embeddings": 512, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 4,
         "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
         "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
         "use_cache": true, "use_sliding_window": false, "vocab_size": 1024, "rope_scaling": null}
        """;

    /// <summary>The field set of Qwen/Qwen1.5-0.5B-Chat's config.json.</summary>
    private const string Qwen15Style = """
        {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
         "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 96,
         "max_position_embeddings": 512, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 4,
         "num_hidden_layers": 2, "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
         "sliding_window": 32768, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.37.0",
         "use_cache": true, "use_sliding_window": false, "vocab_size": 1024}
        """;

    [Theory]
    [InlineData(Qwen25Style, 2, true)]
    [InlineData(Qwen15Style, 4, false)]
    public void Official_config_fields_open(string configJson, int kvHeads, bool tied)
    {
        string dir = Path.Combine(_root, "hf");
        var config = QwenConfig.Parse(configJson);
        HuggingFaceCheckpointWriter.Write(dir, configJson, new HashWeightSource(config, 1), "BF16", CheckpointStorage.Single);
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson);

        using var checkpoint = HuggingFaceCheckpoint.Open(dir);
        checkpoint.Config.NumKeyValueHeads.Should().Be(kvHeads);
        checkpoint.Config.TieWordEmbeddings.Should().Be(tied);
        checkpoint.ParameterDtypes.Values.Should().OnlyContain(d => d == SafetensorsDtype.BFloat16);
        checkpoint.ParameterDtypes.Keys.Contains("lm_head.weight").Should().Be(!tied);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
