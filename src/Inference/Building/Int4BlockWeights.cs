using Qwen.Inference.Models;

namespace Qwen.Inference.Building;

/// <summary>
/// Block-wise symmetric 4-bit weights in the layout of <c>com.microsoft.MatMulNBits</c>:
/// B is [N, k_blocks, BlockSize / 2] bytes (element 2j in the low nibble, 2j+1 in the high),
/// scales are [N, k_blocks], and the zero point is the operator's default 8, so
/// w ≈ (nibble - 8) · scale.
/// </summary>
internal static class Int4BlockWeights
{
    public const int BlockSize = 32;
    public const int Bits = 4;
    private const int BlobBytes = BlockSize * Bits / 8;

    public static int BlockCount(int inFeatures) => (inFeatures + BlockSize - 1) / BlockSize;

    /// <summary>Reads each named [out_i, in] matrix and stacks them as one [Σout_i, in] matrix (rows stay in Hugging Face order).</summary>
    public static float[] ReadRows(IWeightSource source, int inFeatures, params (string Name, int Out)[] parts)
    {
        var rows = new float[(long)inFeatures * parts.Sum(p => p.Out)];
        long offset = 0;
        foreach (var (name, outFeatures) in parts)
        {
            long count = (long)outFeatures * inFeatures;
            source.Fill(name, rows.AsSpan((int)offset, (int)count));
            offset += count;
        }
        return rows;
    }

    /// <summary>
    /// Quantizes [N, K] rows block by block along K. Each block's scale maps its largest-magnitude
    /// value to -8 exactly, so all 16 levels are used; a K not divisible by the block size is
    /// padded with zeros.
    /// </summary>
    public static (byte[] Packed, float[] Scales) Quantize(float[] rows, int outFeatures, int inFeatures)
    {
        int blocks = BlockCount(inFeatures);
        var packed = new byte[(long)outFeatures * blocks * BlobBytes];
        var scales = new float[(long)outFeatures * blocks];
        Parallel.For(0, outFeatures, n =>
        {
            var row = rows.AsSpan((int)((long)n * inFeatures), inFeatures);
            Span<sbyte> codes = stackalloc sbyte[BlockSize];
            for (int b = 0; b < blocks; b++)
            {
                int start = b * BlockSize;
                var block = row.Slice(start, Math.Min(BlockSize, inFeatures - start));
                float extreme = 0;
                foreach (float w in block)
                {
                    if (Math.Abs(w) > Math.Abs(extreme)) extreme = w;
                }
                float scale = extreme == 0 ? 1f : extreme / -8f;
                float inverse = 1f / scale;
                codes.Clear();
                for (int i = 0; i < block.Length; i++) codes[i] = (sbyte)Math.Clamp(MathF.Round(block[i] * inverse), -8f, 7f);
                scales[(long)n * blocks + b] = scale;
                long blob = ((long)n * blocks + b) * BlobBytes;
                for (int j = 0; j < BlobBytes; j++)
                    packed[blob + j] = (byte)((codes[2 * j] + 8) | ((codes[2 * j + 1] + 8) << 4));
            }
        });
        return (packed, scales);
    }
}
