using Qwen.Inference.Models;
using Qwen.Inference.Onnx;
using DataType = Qwen.Inference.Onnx.Proto.TensorProto.Types.DataType;

namespace Qwen.Inference.Building;

/// <summary>
/// Writes the Qwen2 decoder as an ONNX graph with KV cache, following the model contract
/// (Hugging Face export names and shapes). Ops: opset-23 RMSNormalization, RotaryEmbedding
/// and Attention (grouped-query, past/present KV), MatMul or MatMulInteger for the linears.
/// </summary>
internal sealed class Qwen2GraphBuilder
{
    private const string Batch = "batch_size";
    private const string Sequence = "sequence_length";
    private const string Past = "past_sequence_length";
    private const string Total = "total_sequence_length";
    private const string Capacity = "kv_capacity";

    private readonly QwenConfig _c;
    private readonly IWeightSource _weights;
    private readonly ModelBuildOptions _o;
    private readonly OnnxGraphWriter _g;
    private readonly IProgress<double>? _progress;
    private string? _uint8Zero128;
    // With prompt lanes: [decode rows, lane 0 tokens, lane 1 tokens, …] as an int64 vector, where the packed token axis splits.
    private string? _laneSplit;
    private int _lanes;
    // Per part of the packed axis (decode rows, then each lane): its length, and that length but at least one.
    private (string Length, string AtLeastOne)[] _laneLengths = [];
    private readonly HashSet<string> _zeroTokens = [];

    private readonly KvCacheScales? _kvScales;

    /// <summary>
    /// A linear layer's initializers: for fp32 and int8, B as [in, out] (int8 with per-column
    /// scales); for int4, MatMulNBits' packed [out, blocks, 16] B with [out, blocks] scales.
    /// </summary>
    private sealed record Linear(WeightType Type, string Weight, string? Scales, string? Bias, int InFeatures, int OutFeatures);

    /// <param name="kvScales">Per layer, the int8 KV cache's key and value scales ([kv_heads × head_dim] each); required with <see cref="ModelBuildOptions.Int8KvCache"/>.</param>
    public Qwen2GraphBuilder(QwenConfig config, IWeightSource weights, ModelBuildOptions options, OnnxGraphWriter writer, IProgress<double>? progress,
        KvCacheScales? kvScales = null)
    {
        _kvScales = kvScales;
        _c = config;
        _weights = weights;
        _o = options;
        _g = writer;
        _progress = progress;
    }

    public void Build()
    {
        DataType kvType = _o.Int8KvCache ? DataType.Int8 : _o.Float16KvCache ? DataType.Float16 : DataType.Float;
        bool shared = _o.KvLayout == KvLayout.SharedBuffer;
        if (_o.Int8KvCache && (_o.Float16KvCache || !shared))
            throw new ArgumentException("an int8 KV cache is for the shared-buffer layout and excludes a float16 one");
        if (_o.Int8KvCache && (_kvScales is null || _kvScales.Layers != _c.NumHiddenLayers))
            throw new ArgumentException("an int8 KV cache needs its calibrated scales, one pair per layer");
        if (shared && (!_o.PositionIdsInput || _o.UseCacheBranchInput))
            throw new ArgumentException("the shared-buffer KV layout takes position_ids and has no use_cache_branch");
        if (_o.PromptLanes < 0) throw new ArgumentException("PromptLanes must be zero or more");
        _lanes = shared ? _o.PromptLanes : 0;
        bool lane = _lanes > 0;
        if (_o.WeightType != WeightType.Fp32 || shared) _g.UseOpset("com.microsoft", 1);
        _g.Input("input_ids", DataType.Int64, Batch, Sequence);
        if (!shared) _g.Input("attention_mask", DataType.Int64, Batch, Total);
        if (_o.PositionIdsInput) _g.Input("position_ids", DataType.Int64, Batch, Sequence);
        if (shared)
        {
            _g.Input("seqlens_k", DataType.Int32, Batch);
            _g.Input("total_sequence_length", DataType.Int32);
        }
        for (int k = 0; k < _lanes; k++)
        {
            _g.Input($"lanes.{k}.input_ids", DataType.Int64, 1, $"lanes.{k}.sequence_length");
            _g.Input($"lanes.{k}.position_ids", DataType.Int64, 1, $"lanes.{k}.sequence_length");
            _g.Input($"lanes.{k}.seqlens_k", DataType.Int32, 1);
            _g.Input($"lanes.{k}.total_sequence_length", DataType.Int32);
            if (_o.LogitsToKeepInput) _g.Input($"lanes.{k}.num_logits_to_keep", DataType.Int64);
        }
        string pastAxis = shared ? Capacity : Past;
        for (int l = 0; l < _c.NumHiddenLayers; l++)
        {
            _g.Input($"past_key_values.{l}.key", kvType, Batch, _c.NumKeyValueHeads, pastAxis, _c.HeadDim);
            _g.Input($"past_key_values.{l}.value", kvType, Batch, _c.NumKeyValueHeads, pastAxis, _c.HeadDim);
        }
        for (int k = 0; k < _lanes; k++)
        {
            for (int l = 0; l < _c.NumHiddenLayers; l++)
            {
                _g.Input($"lanes.{k}.past_key_values.{l}.key", kvType, 1, _c.NumKeyValueHeads, Capacity, _c.HeadDim);
                _g.Input($"lanes.{k}.past_key_values.{l}.value", kvType, 1, _c.NumKeyValueHeads, Capacity, _c.HeadDim);
            }
        }
        // Merged exports switch between a no-past and a with-past branch; this graph has one
        // branch, and the first step's zero-length past expresses "no cache" already.
        if (_o.UseCacheBranchInput) _g.Input("use_cache_branch", DataType.Bool, 1);
        if (_o.LogitsToKeepInput && !lane) _g.Input("num_logits_to_keep", DataType.Int64);

        string ids = "input_ids", positions = PositionIds();
        if (lane)
        {
            // One token per decode row, then each lane's tokens, on one packed token axis: the
            // linears see every token of the step in one GEMM and read the weights once.
            var lanes = Enumerable.Range(0, _lanes).ToArray();
            ids = _g.Node("Concat", [_g.Node("Transpose", ["input_ids"], attributes: Attrs(("perm", new long[] { 1, 0 }))),
                .. lanes.Select(k => $"lanes.{k}.input_ids")], attributes: Attrs(("axis", 1L)));
            positions = _g.Node("Concat", [_g.Node("Transpose", [positions], attributes: Attrs(("perm", new long[] { 1, 0 }))),
                .. lanes.Select(k => $"lanes.{k}.position_ids")], attributes: Attrs(("axis", 1L)));
            string[] lengths = [_g.Node("Shape", ["input_ids"], attributes: Attrs(("start", 0L), ("end", 1L))),
                .. lanes.Select(k => _g.Node("Shape", [$"lanes.{k}.input_ids"], attributes: Attrs(("start", 1L), ("end", 2L))))];
            _laneSplit = _g.Node("Concat", lengths, attributes: Attrs(("axis", 0L)));
            _laneLengths = [.. lengths.Select(n => (n, _g.Node("Max", [n, _g.Vector(1)])))];
        }
        string mask = shared ? "" : AttentionMask();
        var (cosTable, sinTable) = RotaryTables.Create(_c.MaxPositionEmbeddings, _c.HeadDim, _c.RopeTheta);
        string cos = _g.Initializer("rotary.cos_cache", cosTable.AsSpan(), [_c.MaxPositionEmbeddings, _c.HeadDim / 2]);
        string sin = _g.Initializer("rotary.sin_cache", sinTable.AsSpan(), [_c.MaxPositionEmbeddings, _c.HeadDim / 2]);

        Linear embedding = AddLinear("model.embed_tokens.weight", _c.HiddenSize, [("model.embed_tokens.weight", _c.VocabSize)], null);
        Linear lmHead = _c.TieWordEmbeddings
            ? embedding
            : AddLinear("lm_head.weight", _c.HiddenSize, [("lm_head.weight", _c.VocabSize)], null);
        Report(1);

        string x = Embed(ids, embedding);
        for (int l = 0; l < _c.NumHiddenLayers; l++)
        {
            x = DecoderLayer(l, x, positions, mask, cos, sin, kvType);
            Report(2 + l);
        }

        string[] rows = lane ? SplitLanes(x) : [x];
        for (int k = 0; _o.LogitsToKeepInput && k < rows.Length - (lane ? 1 : 0); k++)
        {
            string keep = lane ? $"lanes.{k}.num_logits_to_keep" : "num_logits_to_keep";
            string start = _g.Node("Neg", [_g.Node("Unsqueeze", [keep, _g.Vector(0)])]);
            int part = lane ? k + 1 : 0;
            rows[part] = _g.Node("Slice", [rows[part], start, _g.Vector(long.MaxValue), _g.Vector(1)]);
        }
        // With lanes, logits are [1, decode rows + each lane's kept positions, vocab]: the
        // [rows, 1, vocab] of the decode rows followed by the [1, kept, vocab] of each lane.
        x = lane ? _g.Node("Concat", rows, attributes: Attrs(("axis", 1L))) : rows[0];
        x = RmsNorm(x, "model.norm.weight");
        ApplyLinear(x, lmHead, "logits");
        _g.Output("logits", DataType.Float, lane ? 1 : Batch, lane ? "logits_rows" : _o.LogitsToKeepInput ? "logits_sequence_length" : Sequence,
            _c.VocabSize);
    }

    /// <summary>A packed [1, rows + lane tokens, …] tensor split into its decode rows and each lane's tokens.</summary>
    private string[] SplitLanes(string packed)
    {
        string[] parts = [_g.Fresh("decode_part"), .. Enumerable.Range(0, _lanes).Select(k => _g.Fresh($"lane{k}_part"))];
        _g.NodeMulti("Split", [packed, _laneSplit!], parts, attributes: Attrs(("axis", 1L)));
        return parts;
    }

    /// <summary>A [1, 1, width] zero token of the attention's input type, made once per width and type.</summary>
    private string ZeroToken(int width, DataType type)
    {
        string name = $"lanes.zero_token_{width}_{(int)type}";
        if (_zeroTokens.Add(name))
        {
            string zero = _g.Initializer(name + "_f32", new float[width].AsSpan(), [1, 1, width]);
            _g.Node("Cast", [zero], name, attributes: Attrs(("to", (long)type)));
        }
        return name;
    }

    /// <summary>Part <paramref name="part"/> of the packed axis, or one zero token in its place when it is empty.</summary>
    private string AtLeastOne(string x, string zero, int part, long axis) =>
        _g.Node("Slice", [_g.Node("Concat", [x, zero], attributes: Attrs(("axis", axis))), _g.Vector(0), _laneLengths[part].AtLeastOne, _g.Vector(axis)]);

    /// <summary>The attention output of part <paramref name="part"/> without the zero token an empty part had.</summary>
    private string FirstOf(string x, int part, long axis) =>
        _g.Node("Slice", [x, _g.Vector(0), _laneLengths[part].Length, _g.Vector(axis)]);

    /// <summary>[1, rows, …] ⇄ [rows, 1, …]: the decode rows on the packed axis and as a batch of one-token rows.</summary>
    private string SwapFirstAxes(string x) => _g.Node("Transpose", [x], attributes: Attrs(("perm", new long[] { 1, 0, 2 })));

    private void Report(int stepsDone) => _progress?.Report(stepsDone / (double)(_c.NumHiddenLayers + 1));

    /// <summary>position_ids, or the same values derived from attention_mask: each token's count of real tokens before it.</summary>
    private string PositionIds()
    {
        if (_o.PositionIdsInput) return "position_ids";
        string cumulative = _g.Node("CumSum", ["attention_mask", _g.Scalar(1L)]);
        string fromZero = _g.Node("Sub", [cumulative, _g.Scalar(1L)]);
        string sequence = _g.Node("Shape", ["input_ids"], attributes: Attrs(("start", 1L), ("end", 2L)));
        string last = _g.Node("Slice", [fromZero, _g.Node("Neg", [sequence]), _g.Vector(long.MaxValue), _g.Vector(1)]);
        return _g.Node("Max", [last, _g.Scalar(0L)], "position_ids_derived");
    }

    /// <summary>
    /// Additive float mask [batch, 1, seq, total]: 0 where a query may attend (key is a real
    /// token, not in the future), a large negative number elsewhere. Finite rather than -inf so
    /// that rows of padding queries, which see nothing, stay finite instead of becoming NaN.
    /// </summary>
    private string AttentionMask()
    {
        string total = _g.Node("Squeeze", [_g.Node("Shape", ["attention_mask"], attributes: Attrs(("start", 1L), ("end", 2L))), _g.Vector(0)]);
        string sequence = _g.Node("Squeeze", [_g.Node("Shape", ["input_ids"], attributes: Attrs(("start", 1L), ("end", 2L))), _g.Vector(0)]);
        string past = _g.Node("Sub", [total, sequence]);
        string queryPos = _g.Node("Unsqueeze", [_g.Node("Range", [past, total, _g.Scalar(1L)]), _g.Vector(1)]);
        string keyPos = _g.Node("Unsqueeze", [_g.Node("Range", [_g.Scalar(0L), total, _g.Scalar(1L)]), _g.Vector(0)]);
        string causal = _g.Node("LessOrEqual", [keyPos, queryPos]);
        string padding = _g.Node("Unsqueeze", [_g.Node("Cast", ["attention_mask"], attributes: Attrs(("to", (long)DataType.Bool))), _g.Vector(1, 2)]);
        string allowed = _g.Node("And", [causal, padding]);
        return _g.Node("Where", [allowed, _g.Scalar(0f), _g.Scalar(-1e30f)], "attention_bias");
    }

    private string Embed(string ids, Linear table)
    {
        if (table.Type == WeightType.Int4) return EmbedInt4(ids, table);
        // The table is stored [hidden, vocab] for the tied lm_head matmul; gather columns.
        string columns = _g.Node("Gather", [table.Weight, ids], attributes: Attrs(("axis", 1L)));
        string rows = _g.Node("Transpose", [columns], attributes: Attrs(("perm", new long[] { 1, 2, 0 })));
        if (table.Scales is null) return rows;
        string values = _g.Node("Cast", [rows], attributes: Attrs(("to", (long)DataType.Float)));
        string scales = _g.Node("Unsqueeze", [_g.Node("Gather", [table.Scales, ids], attributes: Attrs(("axis", 0L))), _g.Vector(-1)]);
        return _g.Node("Mul", [values, scales], "inputs_embeds");
    }

    /// <summary>
    /// Gathers the token rows of the packed int4 table and dequantizes them in the graph:
    /// split each byte into its two nibbles, subtract the zero point 8, scale per block.
    /// </summary>
    private string EmbedInt4(string ids, Linear table)
    {
        int blocks = Int4BlockWeights.BlockCount(table.InFeatures);
        string rows = _g.Node("Gather", [table.Weight, ids], attributes: Attrs(("axis", 0L)));
        string low = _g.Node("BitwiseAnd", [rows, _g.Constant<byte>([15])]);
        string high = _g.Node("BitShift", [rows, _g.Constant<byte>([4])], attributes: Attrs(("direction", "RIGHT")));
        string pairs = _g.Node("Concat", [_g.Node("Unsqueeze", [low, _g.Vector(-1)]), _g.Node("Unsqueeze", [high, _g.Vector(-1)])],
            attributes: Attrs(("axis", -1L)));
        string codes = _g.Node("Reshape", [pairs, _g.Vector(0, 0, blocks, Int4BlockWeights.BlockSize)]);
        string centered = _g.Node("Sub", [_g.Node("Cast", [codes], attributes: Attrs(("to", (long)DataType.Float))), _g.Scalar(8f)]);
        string scales = _g.Node("Unsqueeze", [_g.Node("Gather", [table.Scales!, ids], attributes: Attrs(("axis", 0L))), _g.Vector(-1)]);
        string values = _g.Node("Reshape", [_g.Node("Mul", [centered, scales]), _g.Vector(0, 0, (long)blocks * Int4BlockWeights.BlockSize)]);
        return blocks * Int4BlockWeights.BlockSize == table.InFeatures
            ? values
            : _g.Node("Slice", [values, _g.Vector(0), _g.Vector(table.InFeatures), _g.Vector(-1)], "inputs_embeds");
    }

    private string DecoderLayer(int l, string x, string positions, string mask, string cos, string sin, DataType kvType)
    {
        string p = $"model.layers.{l}";
        int h = _c.HiddenSize, q = _c.NumAttentionHeads * _c.HeadDim, kv = _c.NumKeyValueHeads * _c.HeadDim;

        string normed = RmsNorm(x, $"{p}.input_layernorm.weight");
        Linear qkv = AddLinear($"{p}.self_attn.qkv_proj", h,
            [($"{p}.self_attn.q_proj.weight", q), ($"{p}.self_attn.k_proj.weight", kv), ($"{p}.self_attn.v_proj.weight", kv)],
            [($"{p}.self_attn.q_proj.bias", q), ($"{p}.self_attn.k_proj.bias", kv), ($"{p}.self_attn.v_proj.bias", kv)]);
        string projected = ApplyLinear(normed, qkv);
        string[] qkvNames = [_g.Fresh($"{p}.q"), _g.Fresh($"{p}.k"), _g.Fresh($"{p}.v")];
        _g.NodeMulti("Split", [projected, _g.Vector(q, kv, kv)], qkvNames, attributes: Attrs(("axis", -1L)));

        string rq = _g.Node("RotaryEmbedding", [qkvNames[0], cos, sin, positions], attributes: Attrs(("num_heads", (long)_c.NumAttentionHeads)));
        string rk = _g.Node("RotaryEmbedding", [qkvNames[1], cos, sin, positions], attributes: Attrs(("num_heads", (long)_c.NumKeyValueHeads)));

        string pastKey = $"past_key_values.{l}.key", pastValue = $"past_key_values.{l}.value";
        string presentKey = $"present.{l}.key", presentValue = $"present.{l}.value";
        bool half = kvType == DataType.Float16;
        string attnOut = _g.Fresh($"{p}.attn");
        if (_o.KvLayout == KvLayout.SharedBuffer)
        {
            // past and present are one buffer: the operator writes the new positions of each
            // row after its seqlens_k - seq cached ones and attends over that row's length only.
            // Its query, key, value and KV share one type T, so a float16 cache means float16
            // inputs (cast after the rotary, which stays float32) and a float16 output.
            string[] qkvIn = half ? [ToHalf(rq), ToHalf(rk), ToHalf(qkvNames[2])] : [rq, rk, qkvNames[2]];
            string gqaOut = half ? _g.Fresh($"{p}.attn_f16") : attnOut;
            var gqaAttributes = Attrs(("num_heads", (long)_c.NumAttentionHeads), ("kv_num_heads", (long)_c.NumKeyValueHeads));
            // An int8 cache: the operator quantizes the new keys and values with these fixed per-channel
            // scales and dequantizes the past inside its kernel; query, key, value and output stay float32.
            string[] scaleInputs = [];
            if (kvType == DataType.Int8)
            {
                var (keyScale, valueScale) = _kvScales![l];
                long[] dims = [1, _c.NumKeyValueHeads, 1, _c.HeadDim];
                scaleInputs = ["", "", "", "", "", _g.Initializer($"{p}.self_attn.k_cache_scale", keyScale.AsSpan(), dims),
                    _g.Initializer($"{p}.self_attn.v_cache_scale", valueScale.AsSpan(), dims)];
                gqaAttributes["k_quant_type"] = "PER_CHANNEL";
                gqaAttributes["v_quant_type"] = "PER_CHANNEL";
                gqaAttributes["kv_cache_bit_width"] = 8L;
            }
            if (_laneSplit is null)
            {
                _g.NodeMulti("GroupQueryAttention", [.. qkvIn, pastKey, pastValue, "seqlens_k", "total_sequence_length", .. scaleInputs],
                    [gqaOut, presentKey, presentValue], domain: "com.microsoft", attributes: gqaAttributes);
            }
            else
            {
                // GroupQueryAttention per lane over its own slots of the same buffer: the decode rows
                // as a batch of one-token rows, each lane as one row of several tokens after its
                // cached positions (the only multi-token form the CPU kernel takes after a past).
                // GroupQueryAttention takes no empty input, so an empty part (no decode rows, an
                // unused lane) attends with one zero token instead, in a scratch slot the caller
                // binds; its output is cut off again. The linears never see it.
                var split = qkvIn.Select(SplitLanes).ToArray();
                DataType qkvType = half ? DataType.Float16 : DataType.Float;
                string[] zeros = [ZeroToken(q, qkvType), ZeroToken(kv, qkvType), ZeroToken(kv, qkvType)];
                string decodeOut = _g.Fresh($"{p}.attn_decode");
                _g.NodeMulti("GroupQueryAttention",
                    [.. split.Select((s, i) => AtLeastOne(SwapFirstAxes(s[0]), zeros[i], 0, 0)), pastKey, pastValue, "seqlens_k", "total_sequence_length",
                        .. scaleInputs],
                    [decodeOut, presentKey, presentValue], domain: "com.microsoft", attributes: gqaAttributes);
                var outs = new List<string> { SwapFirstAxes(FirstOf(decodeOut, 0, 0)) };
                for (int k = 0; k < _lanes; k++)
                {
                    string lane = $"lanes.{k}", laneOut = _g.Fresh($"{p}.attn_lane{k}");
                    string lanePresentKey = $"{lane}.present.{l}.key", lanePresentValue = $"{lane}.present.{l}.value";
                    _g.NodeMulti("GroupQueryAttention", [.. split.Select((s, i) => AtLeastOne(s[k + 1], zeros[i], k + 1, 1)),
                        $"{lane}.past_key_values.{l}.key", $"{lane}.past_key_values.{l}.value", $"{lane}.seqlens_k", $"{lane}.total_sequence_length",
                        .. scaleInputs],
                        [laneOut, lanePresentKey, lanePresentValue], domain: "com.microsoft", attributes: gqaAttributes);
                    _g.Output(lanePresentKey, kvType, 1, _c.NumKeyValueHeads, Capacity, _c.HeadDim);
                    _g.Output(lanePresentValue, kvType, 1, _c.NumKeyValueHeads, Capacity, _c.HeadDim);
                    outs.Add(FirstOf(laneOut, k + 1, 1));
                }
                _g.Node("Concat", outs, gqaOut, attributes: Attrs(("axis", 1L)));
            }
            if (half) _g.Node("Cast", [gqaOut], attnOut, attributes: Attrs(("to", (long)DataType.Float)));
            _g.Output(presentKey, kvType, Batch, _c.NumKeyValueHeads, Capacity, _c.HeadDim);
            _g.Output(presentValue, kvType, Batch, _c.NumKeyValueHeads, Capacity, _c.HeadDim);
            return FeedForward(l, x, attnOut);
        }
        if (half)
        {
            pastKey = _g.Node("Cast", [pastKey], attributes: Attrs(("to", (long)DataType.Float)));
            pastValue = _g.Node("Cast", [pastValue], attributes: Attrs(("to", (long)DataType.Float)));
        }
        string keyOut = half ? _g.Fresh($"{p}.present_key_f32") : presentKey;
        string valueOut = half ? _g.Fresh($"{p}.present_value_f32") : presentValue;
        _g.NodeMulti("Attention", [rq, rk, qkvNames[2], mask, pastKey, pastValue], [attnOut, keyOut, valueOut],
            attributes: Attrs(("q_num_heads", (long)_c.NumAttentionHeads), ("kv_num_heads", (long)_c.NumKeyValueHeads)));
        if (half)
        {
            _g.Node("Cast", [keyOut], presentKey, attributes: Attrs(("to", (long)DataType.Float16)));
            _g.Node("Cast", [valueOut], presentValue, attributes: Attrs(("to", (long)DataType.Float16)));
        }
        _g.Output(presentKey, kvType, Batch, _c.NumKeyValueHeads, Total, _c.HeadDim);
        _g.Output(presentValue, kvType, Batch, _c.NumKeyValueHeads, Total, _c.HeadDim);
        return FeedForward(l, x, attnOut);
    }

    private string ToHalf(string x) => _g.Node("Cast", [x], attributes: Attrs(("to", (long)DataType.Float16)));

    /// <summary>The attention's output projection and residual, then the MLP block and its residual.</summary>
    private string FeedForward(int l, string x, string attnOut)
    {
        string p = $"model.layers.{l}";
        int h = _c.HiddenSize, q = _c.NumAttentionHeads * _c.HeadDim;
        Linear o = AddLinear($"{p}.self_attn.o_proj", q, [($"{p}.self_attn.o_proj.weight", h)], null);
        x = _g.Node("Add", [x, ApplyLinear(attnOut, o)]);

        string normed2 = RmsNorm(x, $"{p}.post_attention_layernorm.weight");
        int inter = _c.IntermediateSize;
        Linear gateUp = AddLinear($"{p}.mlp.gate_up_proj", h, [($"{p}.mlp.gate_proj.weight", inter), ($"{p}.mlp.up_proj.weight", inter)], null);
        string[] gu = [_g.Fresh($"{p}.gate"), _g.Fresh($"{p}.up")];
        _g.NodeMulti("Split", [ApplyLinear(normed2, gateUp), _g.Vector(inter, inter)], gu, attributes: Attrs(("axis", -1L)));
        string silu = _g.Node("Mul", [gu[0], _g.Node("Sigmoid", [gu[0]])]);
        string hidden = _g.Node("Mul", [silu, gu[1]]);
        Linear down = AddLinear($"{p}.mlp.down_proj", inter, [($"{p}.mlp.down_proj.weight", h)], null);
        return _g.Node("Add", [x, ApplyLinear(hidden, down)], $"{p}.output");
    }

    private string RmsNorm(string x, string weightName)
    {
        var w = LinearWeights.ReadVector(_weights, (weightName, _c.HiddenSize));
        string scale = _g.Initializer(weightName, w.AsSpan(), [_c.HiddenSize]);
        return _g.Node("RMSNormalization", [x, scale], attributes: Attrs(("axis", -1L), ("epsilon", (float)_c.RmsNormEps)));
    }

    private Linear AddLinear(string name, int inFeatures, (string Name, int Out)[] weights, (string Name, int Length)[]? biases)
    {
        int outFeatures = weights.Sum(w => w.Out);
        string? bias = biases is null ? null
            : _g.Initializer(name + ".bias", LinearWeights.ReadVector(_weights, biases).AsSpan(), [outFeatures]);
        if (_o.WeightType == WeightType.Int4)
        {
            // MatMulNBits takes B in the Hugging Face [out, in] order, so no transpose.
            float[] rows = Int4BlockWeights.ReadRows(_weights, inFeatures, weights);
            var (packed, blockScales) = Int4BlockWeights.Quantize(rows, outFeatures, inFeatures);
            int blocks = Int4BlockWeights.BlockCount(inFeatures);
            return new Linear(WeightType.Int4,
                _g.Initializer(name + ".weight_q4", packed.AsSpan(), [outFeatures, blocks, Int4BlockWeights.BlockSize / 2]),
                _g.Initializer(name + ".weight_q4_scale", blockScales.AsSpan(), [outFeatures, blocks]),
                bias, inFeatures, outFeatures);
        }
        float[] matrix = LinearWeights.ReadTransposed(_weights, inFeatures, weights);
        if (_o.WeightType == WeightType.Fp32)
        {
            return new Linear(WeightType.Fp32, _g.Initializer(name + ".weight_t", matrix.AsSpan(), [inFeatures, outFeatures]), null, bias,
                inFeatures, outFeatures);
        }
        var (quantized, scales) = LinearWeights.QuantizeColumns(matrix, inFeatures, outFeatures);
        return new Linear(WeightType.Int8,
            _g.Initializer(name + ".weight_t_int8", quantized.AsSpan(), [inFeatures, outFeatures]),
            _g.Initializer(name + ".weight_scale", scales.AsSpan(), [outFeatures]),
            bias, inFeatures, outFeatures);
    }

    private string ApplyLinear(string x, Linear linear, string? output = null)
    {
        string y;
        if (linear.Type == WeightType.Fp32)
        {
            y = _g.Node("MatMul", [x, linear.Weight], linear.Bias is null ? output : null);
        }
        else if (linear.Type == WeightType.Int4)
        {
            // accuracy_level 4: activations are quantized to int8 per row and block inside the
            // kernel, so each sequence's result stays independent of its batch neighbours.
            y = _g.Node("MatMulNBits", [x, linear.Weight, linear.Scales!], linear.Bias is null ? output : null, domain: "com.microsoft",
                attributes: Attrs(("K", (long)linear.InFeatures), ("N", (long)linear.OutFeatures), ("bits", (long)Int4BlockWeights.Bits),
                    ("block_size", (long)Int4BlockWeights.BlockSize), ("accuracy_level", 4L)));
        }
        else
        {
            // Per-row symmetric quantization of the activations: q = round(x / s) + 128 with
            // s = max|x_row| / 127, so uint8 A with zero point 128 meets int8 B in MatMulInteger.
            string maxAbs = _g.Node("ReduceMax", [_g.Node("Abs", [x]), _g.Vector(-1)], attributes: Attrs(("keepdims", 1L)));
            string rowScale = _g.Node("Max", [_g.Node("Mul", [maxAbs, _g.Scalar(1f / 127f)]), _g.Scalar(1e-30f)]);
            string rounded = _g.Node("Round", [_g.Node("Div", [x, rowScale])]);
            string quantized = _g.Node("Cast", [_g.Node("Add", [rounded, _g.Scalar(128f)])], attributes: Attrs(("to", (long)DataType.Uint8)));
            _uint8Zero128 ??= _g.Constant<byte>([128]);
            // MatMulIntegerToFloat applies the per-column weight scales inside the GEMM's
            // output stage; its activation scale must be a scalar, so the per-row scale
            // follows as one Mul.
            string columnScaled = _g.Node("MatMulIntegerToFloat", [quantized, linear.Weight, _g.Scalar(1f), linear.Scales!, _uint8Zero128],
                domain: "com.microsoft");
            y = _g.Node("Mul", [columnScaled, rowScale], linear.Bias is null ? output : null);
        }
        return linear.Bias is null ? y : _g.Node("Add", [y, linear.Bias], output);
    }

    private static Dictionary<string, object> Attrs(params (string Key, object Value)[] items) =>
        items.ToDictionary(i => i.Key, i => i.Value);
}
