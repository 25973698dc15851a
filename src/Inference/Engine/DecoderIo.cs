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

    /// <summary>
    /// The prompt lanes of a shared-buffer model (none without them): each one row of several
    /// tokens that runs in the same model call as the one-token decode rows, with its own inputs and KV view.
    /// </summary>
    public IReadOnlyList<LaneIo> Lanes { get; init; } = [];

    /// <summary>The names of a prompt lane's inputs and outputs.</summary>
    public sealed record LaneIo(string InputIds, string PositionIds, string SeqlensK, string TotalSequenceLength, string? LogitsToKeep,
        IReadOnlyList<string> PastKeys, IReadOnlyList<string> PastValues, IReadOnlyList<string> PresentKeys, IReadOnlyList<string> PresentValues);

    /// <summary>A lane's names as they are read, before they are checked complete.</summary>
    private sealed class LaneNames(int layers)
    {
        public Dictionary<string, string> Inputs { get; } = [];
        public string?[] PastKeys { get; } = new string?[layers];
        public string?[] PastValues { get; } = new string?[layers];
        public string?[] PresentKeys { get; } = new string?[layers];
        public string?[] PresentValues { get; } = new string?[layers];
    }

    [GeneratedRegex(@"^past_key_values\.(\d+)\.(key|value)$")]
    private static partial Regex PastPattern();

    [GeneratedRegex(@"^present(?:_key_values)?\.(\d+)\.(key|value)$")]
    private static partial Regex PresentPattern();

    [GeneratedRegex(@"^lanes\.(\d+)\.(input_ids|position_ids|seqlens_k|total_sequence_length|num_logits_to_keep)$")]
    private static partial Regex LaneInputPattern();

    [GeneratedRegex(@"^lanes\.(\d+)\.(past_key_values|present)\.(\d+)\.(key|value)$")]
    private static partial Regex LaneKvPattern();

    public static DecoderIo Read(IReadOnlyDictionary<string, NodeMetadata> inputs, IReadOnlyDictionary<string, NodeMetadata> outputs,
        QwenConfig config)
    {
        int layers = config.NumHiddenLayers;
        var pastKeys = new string?[layers];
        var pastValues = new string?[layers];
        string? inputIds = null, mask = null, positions = null, useCache = null, keep = null, seqlens = null, total = null;
        var lanes = new SortedDictionary<int, LaneNames>();
        LaneNames LaneOf(Match m)
        {
            int lane = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (!lanes.TryGetValue(lane, out var names)) lanes[lane] = names = new LaneNames(layers);
            return names;
        }
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
                    if (LaneInputPattern().Match(input.Name) is { Success: true } laneInput)
                    {
                        string role = laneInput.Groups[2].Value;
                        LaneOf(laneInput).Inputs[role] = Expect(input, role is "seqlens_k" or "total_sequence_length" ? TensorElementType.Int32 : TensorElementType.Int64);
                        break;
                    }
                    if (LaneKvPattern().Match(input.Name) is { Success: true, Groups: var g } laneKv && g[2].Value == "past_key_values")
                    {
                        CheckKv(input, config, ref kvType);
                        (g[4].Value == "key" ? LaneOf(laneKv).PastKeys : LaneOf(laneKv).PastValues)[LayerOf(input.Name, g[3].Value, layers)] = input.Name;
                        break;
                    }
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
            if (LaneKvPattern().Match(output.Name) is { Success: true, Groups: var g } laneKv && g[2].Value == "present")
            {
                CheckKv(output, config, ref kvType);
                (g[4].Value == "key" ? LaneOf(laneKv).PresentKeys : LaneOf(laneKv).PresentValues)[LayerOf(output.Name, g[3].Value, layers)] = output.Name;
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

        var laneIos = new List<LaneIo>();
        foreach (var (k, names) in lanes)
        {
            if (k != laneIos.Count) throw new InvalidModelException($"model has prompt lane {k} but no lane {laneIos.Count}");
            if (seqlens is null) throw new InvalidModelException("prompt lanes need the shared-buffer KV layout");
            string Required(string role) => names.Inputs.TryGetValue(role, out var name)
                ? name
                : throw new InvalidModelException($"model has no 'lanes.{k}.{role}' input although it has prompt lane {k}");
            RequireAll(names.PastKeys, $"lanes.{k}.past_key_values.{{0}}.key", layers);
            RequireAll(names.PastValues, $"lanes.{k}.past_key_values.{{0}}.value", layers);
            RequireAll(names.PresentKeys, $"lanes.{k}.present.{{0}}.key", layers);
            RequireAll(names.PresentValues, $"lanes.{k}.present.{{0}}.value", layers);
            laneIos.Add(new LaneIo(Required("input_ids"), Required("position_ids"), Required("seqlens_k"), Required("total_sequence_length"),
                names.Inputs.GetValueOrDefault("num_logits_to_keep"), names.PastKeys!, names.PastValues!, names.PresentKeys!, names.PresentValues!));
        }

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
            Lanes = laneIos,
        };
    }

    private static int LayerOf(string name, string number, int layers)
    {
        int layer = int.Parse(number, System.Globalization.CultureInfo.InvariantCulture);
        return layer < layers ? layer : throw new InvalidModelException($"model tensor '{name}' names layer {layer}, but config.json has {layers} layers");
    }

    private static string Expect(Node node, TensorElementType type) => node.ElementType == type
        ? node.Name
        : throw new InvalidModelException($"model tensor '{node.Name}' has element type {node.ElementType}, expected {type}");

    private static void CheckKv(Node node, QwenConfig config, ref TensorElementType? kvType)
    {
        if (node.ElementType is not (TensorElementType.Float or TensorElementType.Float16 or TensorElementType.Int8))
            throw new InvalidModelException($"KV tensor '{node.Name}' has element type {node.ElementType}; float32, float16 or int8 expected");
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
