namespace Qwen.Inference.Building;

/// <summary>How the matmul weights of a built model are stored.</summary>
public enum WeightType
{
    /// <summary>float32 weights, float32 MatMul.</summary>
    Fp32,

    /// <summary>
    /// Weight-only int8: symmetric per-output-channel int8 weights; activations quantized to
    /// 8 bits per row at run time and multiplied with MatMulInteger. Per-row (not
    /// per-tensor) activation scales keep every sequence's result independent of the others
    /// in its batch.
    /// </summary>
    Int8,

    /// <summary>
    /// Weight-only int4: symmetric 4-bit weights in blocks of 32 along the input dimension,
    /// multiplied with <c>com.microsoft.MatMulNBits</c> (activations quantized to int8 per row
    /// and block inside the kernel). The tied embedding is gathered from the same packed table.
    /// </summary>
    Int4,
}

/// <summary>How the decoder graph attends and keeps its KV cache.</summary>
public enum KvLayout
{
    /// <summary>
    /// <see cref="SharedBuffer"/> when the graph can have it (head_dim a multiple of 8 —
    /// GroupQueryAttention's rule — position_ids, no use_cache_branch), else
    /// <see cref="Standard"/>.
    /// </summary>
    Auto,

    /// <summary>
    /// The Hugging Face export layout: <c>attention_mask</c> input, opset-23 <c>Attention</c>,
    /// present KV = past KV plus the new positions, in new tensors every step.
    /// </summary>
    Standard,

    /// <summary>
    /// Slot layout: <c>com.microsoft</c> <c>GroupQueryAttention</c> over a preallocated KV
    /// buffer [batch, kv_heads, capacity, head_dim] that is both the past input and the
    /// present output (written in place). Each row's tokens are stored from column 0 and
    /// attended over that row's own length (<c>seqlens_k</c>), so no row sees padding and
    /// every row computes exactly what it computes alone.
    /// </summary>
    SharedBuffer,
}

/// <summary>
/// Options of the ONNX graph the builder writes. The I/O switches reproduce the variants
/// real Hugging Face exports have, so the loader can be tested against each of them.
/// </summary>
public sealed record ModelBuildOptions
{
    public WeightType WeightType { get; init; } = WeightType.Fp32;

    /// <summary>Emit a <c>position_ids</c> input (otherwise positions are derived from <c>attention_mask</c> in the graph).</summary>
    public bool PositionIdsInput { get; init; } = true;

    /// <summary>Emit the <c>use_cache_branch</c> input of merged exports.</summary>
    public bool UseCacheBranchInput { get; init; }

    /// <summary>
    /// Store the KV cache (past/present tensors) as float16: half the KV memory. In the
    /// shared-buffer layout GroupQueryAttention then takes float16 query/key/value and computes
    /// attention in float16; the standard layout casts the KV to float32 for its Attention.
    /// </summary>
    public bool Float16KvCache { get; init; }

    /// <summary>
    /// Store the KV cache as int8 (shared-buffer layout only): a quarter of the float32 KV memory.
    /// GroupQueryAttention quantizes each new key and value with fixed per-channel scales and
    /// dequantizes the past in its kernel; query, key, value and output stay float32. The build
    /// calibrates the scales on a float32-KV twin of the model (<see cref="KvCacheCalibration"/>);
    /// values beyond them are clipped.
    /// </summary>
    public bool Int8KvCache { get; init; }

    /// <summary>
    /// The attention and KV layout. <see cref="KvLayout.Auto"/> (the default) picks
    /// <see cref="KvLayout.SharedBuffer"/> (rows bit-identical alone and batched, no KV copies
    /// per step) whenever the shape and I/O switches allow it: it takes position_ids and has no
    /// use_cache_branch, with float32 or float16 KV; the other I/O switches describe variants of
    /// the <see cref="KvLayout.Standard"/> export layout.
    /// </summary>
    public KvLayout KvLayout { get; init; } = KvLayout.Auto;

    /// <summary>The layout a model of <paramref name="config"/>'s shape gets with these options; refuses an impossible explicit choice.</summary>
    public KvLayout ResolveKvLayout(Models.QwenConfig config)
    {
        bool possible = config.HeadDim % 8 == 0 && PositionIdsInput && !UseCacheBranchInput;
        return KvLayout switch
        {
            KvLayout.Auto => possible ? KvLayout.SharedBuffer : KvLayout.Standard,
            KvLayout.SharedBuffer when !possible => throw new ArgumentException(
                $"the shared-buffer KV layout needs head_dim a multiple of 8 (this shape has {config.HeadDim}), position_ids and no use_cache_branch"),
            var layout => layout,
        };
    }

    /// <summary>
    /// Emit a <c>num_logits_to_keep</c> input: only the last N positions get logits (0 = all),
    /// which saves the vocabulary-sized matmul for every prompt position but the last.
    /// </summary>
    public bool LogitsToKeepInput { get; init; } = true;

    /// <summary>
    /// Shared-buffer layout only: lanes of inputs (<c>lanes.{k}.input_ids</c>, <c>.position_ids</c>,
    /// <c>.seqlens_k</c>, <c>.total_sequence_length</c>, <c>.num_logits_to_keep</c>,
    /// <c>.past_key_values.*</c>), each for one row of several tokens, e.g. a prompt chunk, that run
    /// in the same model call as the one-token decode rows. The linears then read their weights once
    /// for all of them; each lane keeps its own GroupQueryAttention, so every row computes what it
    /// computes alone. Logits become [1, decode rows + each lane's kept positions, vocab]. The
    /// standard layout ignores it.
    /// </summary>
    /// <remarks>
    /// Off (0) by default: every lane is one more GroupQueryAttention per layer, which ONNX Runtime
    /// runs even when the lane is empty (on one zero token), at a fixed cost per node that makes a
    /// one-row decode step about a third slower. Under many concurrent requests the merged prefill
    /// more than pays for it (docs/batching.md).
    /// </remarks>
    public int PromptLanes { get; init; }
}
