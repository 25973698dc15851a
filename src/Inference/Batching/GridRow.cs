namespace Qwen.Inference.Batching;

/// <summary>One row of a <see cref="KvGrid"/>, as a source when a new grid is composed.</summary>
internal readonly record struct GridRow(KvGrid Grid, int Row);
