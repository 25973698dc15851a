using System.Text.RegularExpressions;
using Qwen.Inference.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Qwen.Inference.Engine;

/// <summary>
/// The decoder's inputs and outputs as the loaded session declares them. Every variation of
/// the model contract (optional position_ids, use_cache_branch, num_logits_to_keep, float16
/// KV cache) is read here, never assumed, and checked against config.json.
/// </summary>
public sealed partial record DecoderIo
{
    public required string InputIds { get; init; }
    /// <summary>The attention mask input of the standard layout; null in the shared-buffer layout.</summary>
    public string? AttentionMask { get; init; }

    /// <summary>Per-row cached length after the step minus one (int32), in the shared-buffer layout.</summary>
    public string? SeqlensK { get; init; }

    /// <summary>The step's longest total length (int32 scalar), in the shared-buffer layout.</summary>
    public string? TotalSequenceLength { get; init; }

    /// <summary>
    /// True when past and present KV are one preallocated buffer written in place
    /// (GroupQueryAttention with seqlens_k): each row stored from column 0, no attention mask.
    /// </summary>
    public bool SharedKvBuffer => SeqlensK is not null;
    public string? PositionIds { get; init; }
    public string? UseCacheBranch { get; init; }
    public string? LogitsToKeep { get; init; }
    public required IReadOnlyList<string> PastKeys { get; init; }
    public required IReadOnlyList<string> PastValues { get; init; }
    public required string Logits { get; init; }
    public required IReadOnlyList<string> PresentKeys { get; init; }
    public required IReadOnlyList<string> PresentValues { get; init; }
    public required TensorElementType KvType { get; init; }
    public int Layers => PastKeys.Count;

    [GeneratedRegex(@"^past_key_values\.(\d+)\.(key|value)$")]
    private static partial Regex PastPattern();

    [GeneratedRegex(@"^present(?:_key_values)?\.(\d+)\.(key|value)$")]
    private static partial Regex PresentPattern();

    public static DecoderIo Read(IReadOnlyDictionary<string, NodeMetadata> inputs, IReadOnlyDictionary<string, NodeMetadata> outputs,
        QwenConfig config)
    {
        int layers = config.NumHiddenLayers;
        var pastKeys = new string?[layers];
        var pastValues = new string?[layers];
        string? inputIds = null, mask = null, positions = null, useCache = null, keep = null, seqlens = null, total = null;
        TensorElementType? kvType = null;

        foreach (var (name, metadata) in inputs)
        {
            var input = Node.Of(name, metadata);
            switch (input.Name)
            {
                case "input_ids": inputIds = Expect(input, TensorElementType.Int64); break;
                case "attention_mask": mask = Expect(input, TensorElementType.Int64); break;
                case "position_ids": positions = Expect(input, TensorElementType.Int64); break;
                case "use_cache_branch": useCache = Expect(input, TensorElementType.Bool); break;
                case "num_logits_to_keep": keep = Expect(input, TensorElementType.Int64); break;
                case "seqlens_k": seqlens = Expect(input, TensorElementType.Int32); break;
                case "total_sequence_length": total = Expect(input, TensorElementType.Int32); break;
                default:
                    var m = PastPattern().Match(input.Name);
                    if (!m.Success) throw new InvalidModelException($"model input '{input.Name}' is not part of the decoder contract");
                    int layer = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                    if (layer >= layers)
                        throw new InvalidModelException($"model input '{input.Name}' names layer {layer}, but config.json has {layers} layers");
                    CheckKv(input, config, ref kvType);
                    (m.Groups[2].Value == "key" ? pastKeys : pastValues)[layer] = input.Name;
                    break;
            }
        }
        if (inputIds is null) throw new InvalidModelException("model has no 'input_ids' input");
        if (seqlens is null != total is null)
            throw new InvalidModelException("a shared-buffer KV model needs both 'seqlens_k' and 'total_sequence_length' inputs");
        if (seqlens is not null)
        {
            if (positions is null) throw new InvalidModelException("a shared-buffer KV model needs a 'position_ids' input");
            if (mask is not null || useCache is not null)
                throw new InvalidModelException("a shared-buffer KV model takes neither 'attention_mask' nor 'use_cache_branch'");
        }
        else if (mask is null) throw new InvalidModelException("model has no 'attention_mask' input");
        RequireAll(pastKeys, "past_key_values.{0}.key", layers);
        RequireAll(pastValues, "past_key_values.{0}.value", layers);

        var presentKeys = new string?[layers];
        var presentValues = new string?[layers];
        string? logits = null;
        foreach (var (name, metadata) in outputs)
        {
            var output = Node.Of(name, metadata);
            if (output.Name == "logits")
            {
                logits = Expect(output, TensorElementType.Float);
                long vocab = output.Shape.Length == 3 ? output.Shape[2] : -1;
                if (vocab > 0 && vocab != config.VocabSize)
                    throw new InvalidModelException($"the model's logits have {vocab} entries but config.json says vocab_size {config.VocabSize}");
                continue;
            }
            var m = PresentPattern().Match(output.Name);
            if (!m.Success) continue;
            int layer = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (layer >= layers) throw new InvalidModelException($"model output '{output.Name}' names layer {layer}, but config.json has {layers} layers");
            CheckKv(output, config, ref kvType);
            (m.Groups[2].Value == "key" ? presentKeys : presentValues)[layer] = output.Name;
        }
        if (logits is null) throw new InvalidModelException("model has no 'logits' output");
        RequireAll(presentKeys, "present.{0}.key", layers);
        RequireAll(presentValues, "present.{0}.value", layers);

        return new DecoderIo
        {
            InputIds = inputIds,
            AttentionMask = mask,
            SeqlensK = seqlens,
            TotalSequenceLength = total,
            PositionIds = positions,
            UseCacheBranch = useCache,
            LogitsToKeep = keep,
            PastKeys = pastKeys!,
            PastValues = pastValues!,
            Logits = logits,
            PresentKeys = presentKeys!,
            PresentValues = presentValues!,
            KvType = kvType ?? TensorElementType.Float,
        };
    }

    private static string Expect(Node node, TensorElementType type) => node.ElementType == type
        ? node.Name
        : throw new InvalidModelException($"model tensor '{node.Name}' has element type {node.ElementType}, expected {type}");

    private static void CheckKv(Node node, QwenConfig config, ref TensorElementType? kvType)
    {
        if (node.ElementType is not (TensorElementType.Float or TensorElementType.Float16))
            throw new InvalidModelException($"KV tensor '{node.Name}' has element type {node.ElementType}; float32 or float16 expected");
        if (kvType is { } seen && seen != node.ElementType)
            throw new InvalidModelException($"KV tensor '{node.Name}' is {node.ElementType} but others are {seen}");
        kvType = node.ElementType;
        if (node.Shape.Length != 4) throw new InvalidModelException($"KV tensor '{node.Name}' has rank {node.Shape.Length}, expected 4");
        if (node.Shape[1] > 0 && node.Shape[1] != config.NumKeyValueHeads)
            throw new InvalidModelException($"KV tensor '{node.Name}' has {node.Shape[1]} heads but config.json says num_key_value_heads {config.NumKeyValueHeads}");
        if (node.Shape[3] > 0 && node.Shape[3] != config.HeadDim)
            throw new InvalidModelException($"KV tensor '{node.Name}' has head size {node.Shape[3]} but config.json implies {config.HeadDim}");
    }

    private static void RequireAll(string?[] names, string pattern, int layers)
    {
        for (int i = 0; i < names.Length; i++)
        {
            if (names[i] is null)
                throw new InvalidModelException($"model has no '{string.Format(System.Globalization.CultureInfo.InvariantCulture, pattern, i)}' although config.json has {layers} layers");
        }
    }

    /// <summary>A model input or output: its name, element type and shape (-1 for a dynamic dimension).</summary>
    private sealed record Node(string Name, TensorElementType ElementType, int[] Shape)
    {
        public static Node Of(string name, NodeMetadata metadata) => metadata.IsTensor
            ? new Node(name, metadata.ElementDataType, metadata.Dimensions)
            : throw new InvalidModelException($"model input or output '{name}' is not a tensor; only tensors are supported");
    }
}
