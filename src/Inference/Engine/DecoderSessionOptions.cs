using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Engine;

/// <summary>How a model is loaded: ONNX Runtime threading and memory settings, file choice, context limit.</summary>
public sealed record DecoderSessionOptions
{
    /// <summary>Intra-op threads; 0 uses one per processor.</summary>
    public int IntraOpThreads { get; init; }

    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>ORT's CPU arena: faster allocation, but it keeps its peak size for the process lifetime.</summary>
    public bool EnableMemoryArena { get; init; } = true;

    /// <summary>
    /// ORT's memory pattern: plans one block for all intermediate tensors of a run, cached per
    /// input shape. Decoding changes the shape every step, so the plans rarely get reused.
    /// </summary>
    public bool EnableMemoryPattern { get; init; } = true;

    /// <summary>File under onnx/ to load; by default model.onnx or the only .onnx file.</summary>
    public string? OnnxFile { get; init; }

    /// <summary>Extra ONNX Runtime session configuration entries (e.g. session.disable_prepacking).</summary>
    public IReadOnlyDictionary<string, string> SessionConfig { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Treat denormal floats as zero (ORT's <c>session.set_denormal_as_zero</c>, with runs on threads
    /// that flush too; see <see cref="DenormalFlushThreads"/>). Off by default: measured end to end on
    /// the 0.5B models, handing every step to a flushing thread costs more than the denormals it saves
    /// (docs/engine.md). Both modes are deterministic.
    /// </summary>
    public bool FlushDenormals { get; init; }

    /// <summary>Prefix of an ORT profile (per-operator times, Chrome-trace JSON) written when the session is disposed; null records none.</summary>
    public string? ProfileFilePrefix { get; init; }

    /// <summary>Largest total sequence (prompt + generated tokens); 0 means the model's max_position_embeddings.</summary>
    public int ContextWindow { get; init; }
}
