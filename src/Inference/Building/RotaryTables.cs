namespace Qwen.Inference.Building;

/// <summary>
/// cos/sin tables for rotary position embeddings, [max_positions, head_dim / 2], computed
/// in float32 the way Hugging Face's Qwen2RotaryEmbedding does.
/// </summary>
internal static class RotaryTables
{
    public static (float[] Cos, float[] Sin) Create(int maxPositions, int headDim, double theta)
    {
        int half = headDim / 2;
        var invFreq = new float[half];
        for (int j = 0; j < half; j++)
        {
            float exponent = (2f * j) / headDim;
            invFreq[j] = 1f / MathF.Pow((float)theta, exponent);
        }
        var cos = new float[maxPositions * half];
        var sin = new float[maxPositions * half];
        for (int p = 0; p < maxPositions; p++)
        {
            for (int j = 0; j < half; j++)
            {
                float angle = p * invFreq[j];
                cos[p * half + j] = (float)Math.Cos(angle);
                sin[p * half + j] = (float)Math.Sin(angle);
            }
        }
        return (cos, sin);
    }
}
