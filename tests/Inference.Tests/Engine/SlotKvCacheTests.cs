using Xunit;
using FluentAssertions;
using Microsoft.ML.OnnxRuntime.Tensors;
using Qwen.Inference.Engine;

namespace Qwen.Inference.Tests.Engine;

/// <summary>The slot buffers as a data structure, for both KV element types: sizes in bytes, and moves that keep every bit.</summary>
public sealed class SlotKvCacheTests
{
    private const int Layers = 2, Heads = 2, HeadDim = 8;

    [Theory]
    [InlineData(TensorElementType.Float, 4)]
    [InlineData(TensorElementType.Float16, 2)]
    public void Allocated_bytes_count_the_element_size(TensorElementType type, int elementSize)
    {
        using var kv = new SlotKvCache(Layers, Heads, HeadDim, type);
        kv.Reserve(3, 100);
        kv.ElementSize.Should().Be(elementSize);
        kv.RowBytes.Should().Be(HeadDim * elementSize);
        kv.AllocatedBytes.Should().Be(2L * Layers * 4 * Heads * 128 * HeadDim * elementSize, "slots round to 4 and capacity to 128");
    }

    [Theory]
    [InlineData(TensorElementType.Float)]
    [InlineData(TensorElementType.Float16)]
    public void Growing_moving_and_swapping_keep_each_sequence_bit_for_bit(TensorElementType type)
    {
        using var kv = new SlotKvCache(Layers, Heads, HeadDim, type);
        kv.Reserve(3, 64);
        var expected = new[] { Fill(kv, 0, 10, 1), Fill(kv, 1, 37, 2), Fill(kv, 2, 64, 3) };
        kv.Reserve(5, 200);
        Read(kv, 0, 10).Should().Equal(expected[0]);
        Read(kv, 1, 37).Should().Equal(expected[1]);
        Read(kv, 2, 64).Should().Equal(expected[2]);
        kv.Swap(0, 2);
        Read(kv, 0, 64).Should().Equal(expected[2]);
        Read(kv, 2, 10).Should().Equal(expected[0]);
        kv.Move(1, 4);
        Read(kv, 4, 37).Should().Equal(expected[1]);
        kv.LengthOf(1).Should().Be(0);
    }

    [Fact]
    public void Other_element_types_are_refused()
    {
        var create = () => new SlotKvCache(Layers, Heads, HeadDim, TensorElementType.BFloat16);
        create.Should().Throw<ArgumentException>();
    }

    private static byte[] Fill(SlotKvCache kv, int slot, int length, int seed)
    {
        var random = new Random(seed);
        for (int l = 0; l < Layers; l++)
        {
            for (int h = 0; h < Heads; h++)
            {
                random.NextBytes(kv.Positions(l, true, slot, h, 0, length));
                random.NextBytes(kv.Positions(l, false, slot, h, 0, length));
            }
        }
        kv.SetLength(slot, length);
        return Read(kv, slot, length);
    }

    private static byte[] Read(SlotKvCache kv, int slot, int length)
    {
        var bytes = new List<byte>();
        for (int l = 0; l < Layers; l++)
        {
            for (int h = 0; h < Heads; h++)
            {
                bytes.AddRange(kv.Positions(l, true, slot, h, 0, length).ToArray());
                bytes.AddRange(kv.Positions(l, false, slot, h, 0, length).ToArray());
            }
        }
        return bytes.ToArray();
    }
}
