using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qwen.Inference.Models;

/// <summary>
/// The Qwen2-architecture fields of a Hugging Face <c>config.json</c>. Unknown fields in the
/// file are ignored; missing optional ones take the Qwen2 defaults.
/// </summary>
public sealed record QwenConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "qwen2";
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int NumKeyValueHeads { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 1_000_000;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 32768;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; } = true;
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; } = 151643;
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; } = 151645;
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; } = "float32";
    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; } = ["Qwen2ForCausalLM"];

    [JsonIgnore] public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Number of query heads that share one key/value head.</summary>
    [JsonIgnore] public int GroupSize => NumAttentionHeads / NumKeyValueHeads;

    private static readonly JsonSerializerOptions WriteOptions = new() { WriteIndented = true };

    /// <summary>Throws <see cref="InvalidModelException"/> naming the first inconsistent field.</summary>
    public QwenConfig Validate()
    {
        static void Require(bool ok, string message)
        {
            if (!ok) throw new InvalidModelException($"config.json: {message}");
        }
        Require(ModelType is "qwen2", $"model_type '{ModelType}' is not supported (expected 'qwen2')");
        Require(HiddenSize > 0, "hidden_size must be positive");
        Require(NumHiddenLayers > 0, "num_hidden_layers must be positive");
        Require(NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads == 0,
            "hidden_size must be a positive multiple of num_attention_heads");
        Require(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0,
            "num_attention_heads must be a multiple of num_key_value_heads");
        Require(HeadDim % 2 == 0, "the head dimension must be even for rotary embeddings");
        Require(IntermediateSize > 0, "intermediate_size must be positive");
        Require(VocabSize > 0, "vocab_size must be positive");
        Require(RopeTheta > 0, "rope_theta must be positive");
        Require(RmsNormEps > 0, "rms_norm_eps must be positive");
        Require(MaxPositionEmbeddings > 0, "max_position_embeddings must be positive");
        Require(HiddenAct is "silu", $"hidden_act '{HiddenAct}' is not supported (expected 'silu')");
        return this;
    }

    public static QwenConfig Parse(string json)
    {
        QwenConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<QwenConfig>(json);
        }
        catch (JsonException e)
        {
            throw new InvalidModelException($"config.json is not valid JSON: {e.Message}", e);
        }
        return (config ?? throw new InvalidModelException("config.json is empty")).Validate();
    }

    public static QwenConfig Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidModelException($"config.json not found at '{path}'");
        return Parse(File.ReadAllText(path));
    }

    public string ToJson() => JsonSerializer.Serialize(this, WriteOptions);

    /// <summary>Test preset: tiny shapes, real Qwen vocabulary, grouped-query attention (4 heads, 2 KV heads).</summary>
    public static QwenConfig Tiny { get; } = new()
    {
        HiddenSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        IntermediateSize = 128,
        VocabSize = 151_936,
        MaxPositionEmbeddings = 32768,
    };

    /// <summary>The exact shape of Qwen1.5-0.5B-Chat.</summary>
    public static QwenConfig Qwen15_05B { get; } = new()
    {
        HiddenSize = 1024,
        NumHiddenLayers = 24,
        NumAttentionHeads = 16,
        NumKeyValueHeads = 16,
        IntermediateSize = 2816,
        VocabSize = 151_936,
        MaxPositionEmbeddings = 32768,
    };

    public static IReadOnlyDictionary<string, QwenConfig> Presets { get; } = new Dictionary<string, QwenConfig>
    {
        ["tiny"] = Tiny,
        ["qwen1.5-0.5b"] = Qwen15_05B,
    };
}
