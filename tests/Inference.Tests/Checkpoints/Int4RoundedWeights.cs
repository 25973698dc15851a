using Qwen.Inference.Models;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// Another source's weights after a round trip through block-wise symmetric int4 (blocks of 32
/// along each row's input dimension; the largest-magnitude value of a block maps to -8), the
/// quantization the int4 build stores. Matrices only: norms and biases stay float32.
/// </summary>
public sealed class Int4RoundedWeights(IWeightSource inner, QwenConfig config) : IWeightSource
{
    private const int Block = 32;
    private readonly Dictionary<string, Qwen2Parameter> _shapes = Qwen2Parameters.For(config).ToDictionary(p => p.Name);

    public void Fill(string name, Span<float> destination)
    {
        inner.Fill(name, destination);
        int[] shape = _shapes[name].Shape;
        if (shape.Length != 2) return;
        int columns = shape[1];
        for (int row = 0; row < shape[0]; row++)
        {
            var values = destination.Slice(row * columns, columns);
            for (int start = 0; start < columns; start += Block)
            {
                var block = values.Slice(start, Math.Min(Block, columns - start));
                float extreme = 0;
                foreach (float v in block) extreme = Math.Abs(v) > Math.Abs(extreme) ? v : extreme;
                if (extreme == 0) continue;
                float scale = extreme / -8f;
                for (int i = 0; i < block.Length; i++) block[i] = Math.Clamp(MathF.Round(block[i] / scale), -8f, 7f) * scale;
            }
        }
    }
}
