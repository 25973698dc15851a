using Qwen.Inference.Models;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>Another weight source's values rounded as a half-precision checkpoint stores them.</summary>
public sealed class RoundedWeights(IWeightSource inner, string dtype) : IWeightSource
{
    public void Fill(string name, Span<float> destination)
    {
        inner.Fill(name, destination);
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = dtype switch
            {
                "BF16" => SafetensorsTestWriter.FromBFloat16(SafetensorsTestWriter.ToBFloat16(destination[i])),
                "F16" => (float)(Half)destination[i],
                _ => destination[i],
            };
        }
    }
}
