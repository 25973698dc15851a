namespace Qwen.Inference.Generation;

/// <summary>
/// Left-padded [batch, length] inputs for sequences of different lengths: real tokens are
/// right-aligned, attention_mask marks them, and each token's position counts only the real
/// tokens before it, so every sequence is computed exactly as if it ran alone.
/// </summary>
internal sealed class BatchLayout
{
    public const long PadTokenId = 0;

    public BatchLayout(IReadOnlyList<IReadOnlyList<int>> sequences)
    {
        BatchSize = sequences.Count;
        Length = sequences.Max(s => s.Count);
        InputIds = new long[BatchSize * Length];
        AttentionMask = new long[BatchSize * Length];
        PositionIds = new long[BatchSize * Length];
        for (int b = 0; b < BatchSize; b++)
        {
            var sequence = sequences[b];
            int pad = Length - sequence.Count;
            for (int t = 0; t < sequence.Count; t++)
            {
                int i = b * Length + pad + t;
                InputIds[i] = sequence[t];
                AttentionMask[i] = 1;
                PositionIds[i] = t;
            }
            for (int t = 0; t < pad; t++) InputIds[b * Length + t] = PadTokenId;
        }
    }

    public int BatchSize { get; }
    public int Length { get; }
    public long[] InputIds { get; }
    public long[] AttentionMask { get; }
    public long[] PositionIds { get; }

    /// <summary>Appends one column to a [batch, oldLength] mask.</summary>
    public static long[] ExtendMask(long[] mask, int batchSize, ReadOnlySpan<long> newColumn)
    {
        int oldLength = mask.Length / batchSize;
        var extended = new long[batchSize * (oldLength + 1)];
        for (int b = 0; b < batchSize; b++)
        {
            Array.Copy(mask, b * oldLength, extended, b * (oldLength + 1), oldLength);
            extended[b * (oldLength + 1) + oldLength] = newColumn[b];
        }
        return extended;
    }
}
