using Qwen.Inference.Models;

namespace Qwen.Inference.Building;

/// <summary>
/// Turns Hugging Face linear weights ([out, in], row-major) into the [in, out] layout a
/// MatMul's B input wants, fusing several projections that read the same input.
/// </summary>
internal static class LinearWeights
{
    /// <summary>Reads each named [out_i, in] matrix and returns them side by side as one [in, Σout_i] matrix.</summary>
    public static float[] ReadTransposed(IWeightSource source, int inFeatures, params (string Name, int Out)[] parts)
    {
        int totalOut = parts.Sum(p => p.Out);
        var result = new float[(long)inFeatures * totalOut];
        int column = 0;
        foreach (var (name, outFeatures) in parts)
        {
            var hf = new float[(long)outFeatures * inFeatures];
            source.Fill(name, hf);
            int col0 = column;
            // Row-blocked transpose, parallel over output rows: large matrices (the 151 936-row
            // embedding) would otherwise take seconds.
            Parallel.For(0, (outFeatures + 63) / 64, block =>
            {
                int oEnd = Math.Min(outFeatures, (block + 1) * 64);
                for (int o = block * 64; o < oEnd; o++)
                {
                    long src = (long)o * inFeatures;
                    for (int i = 0; i < inFeatures; i++) result[(long)i * totalOut + col0 + o] = hf[src + i];
                }
            });
            column += outFeatures;
        }
        return result;
    }

    public static float[] ReadVector(IWeightSource source, params (string Name, int Length)[] parts)
    {
        var result = new float[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var (name, length) in parts)
        {
            source.Fill(name, result.AsSpan(offset, length));
            offset += length;
        }
        return result;
    }

    /// <summary>
    /// Symmetric per-output-column int8 quantization of an [in, out] matrix:
    /// w[i, o] ≈ q[i, o] · scale[o], q in [-127, 127].
    /// </summary>
    public static (sbyte[] Quantized, float[] Scales) QuantizeColumns(float[] weights, int inFeatures, int outFeatures)
    {
        var maxAbs = new float[outFeatures];
        for (int i = 0; i < inFeatures; i++)
        {
            var row = weights.AsSpan(i * outFeatures, outFeatures);
            for (int o = 0; o < outFeatures; o++) maxAbs[o] = Math.Max(maxAbs[o], Math.Abs(row[o]));
        }
        var scales = new float[outFeatures];
        var inverse = new float[outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            scales[o] = maxAbs[o] > 0 ? maxAbs[o] / 127f : 1f;
            inverse[o] = 1f / scales[o];
        }
        var q = new sbyte[weights.LongLength];
        Parallel.For(0, inFeatures, i =>
        {
            long start = (long)i * outFeatures;
            for (int o = 0; o < outFeatures; o++)
            {
                q[start + o] = (sbyte)Math.Clamp(MathF.Round(weights[start + o] * inverse[o]), -127f, 127f);
            }
        });
        return (q, scales);
    }
}
