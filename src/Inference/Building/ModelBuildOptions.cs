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

    /// <summary>Store the KV cache (past/present tensors) as float16.</summary>
    public bool Float16KvCache { get; init; }

    /// <summary>
    /// Emit a <c>num_logits_to_keep</c> input: only the last N positions get logits (0 = all),
    /// which saves the vocabulary-sized matmul for every prompt position but the last.
    /// </summary>
    public bool LogitsToKeepInput { get; init; } = true;
}
