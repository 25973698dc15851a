using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Qwen.Inference.Checkpoints;

/// <summary>Widens little-endian float16 / bfloat16 / float32 bytes to float32, exactly.</summary>
internal static class FloatWidening
{
    public static void Widen(ReadOnlySpan<byte> source, SafetensorsDtype dtype, Span<float> destination)
    {
        // The casts below reinterpret bytes in machine order.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian");
        switch (dtype)
        {
            case SafetensorsDtype.Float32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case SafetensorsDtype.Float16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case SafetensorsDtype.BFloat16:
                WidenBFloat16(MemoryMarshal.Cast<byte, ushort>(source), MemoryMarshal.Cast<float, uint>(destination));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    /// <summary>A bfloat16 is the high half of a float32, so widening is a 16-bit shift.</summary>
    private static void WidenBFloat16(ReadOnlySpan<ushort> source, Span<uint> destination)
    {
        for (int i = 0; i < source.Length; i++) destination[i] = (uint)source[i] << 16;
    }
}
