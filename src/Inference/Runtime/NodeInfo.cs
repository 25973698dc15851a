namespace Qwen.Inference.Runtime;

/// <summary>
/// A model input or output: its tensor element type and shape. <paramref name="Shape"/> holds -1
/// for dynamic dimensions; <paramref name="SymbolicDimensions"/> holds each dimension's
/// <c>dim_param</c> name, or null where the model gives none.
/// </summary>
public sealed record NodeInfo(string Name, TensorElementType ElementType, long[] Shape, string?[] SymbolicDimensions);
