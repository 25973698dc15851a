using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>One tensor to write: header dtype string, shape and its raw little-endian bytes.</summary>
public sealed record RawTensor(string Name, string Dtype, long[] Shape, byte[] Bytes);

/// <summary>
/// Writes safetensors files for tests, independently of the reader under test: an 8-byte
/// little-endian header length, the header JSON, then each tensor's bytes back to back.
/// </summary>
public static class SafetensorsTestWriter
{
    public static void Write(string path, IEnumerable<RawTensor> tensors)
    {
        var list = tensors.ToList();
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var t in list)
        {
            header[t.Name] = new { dtype = t.Dtype, shape = t.Shape, data_offsets = new[] { offset, offset + t.Bytes.Length } };
            offset += t.Bytes.Length;
        }
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        // The format pads the header with spaces to an 8-byte boundary.
        int padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        file.Write(length);
        file.Write(json);
        for (int i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
        foreach (var t in list) file.Write(t.Bytes);
    }

    public static byte[] Float32Bytes(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>bfloat16 with round-to-nearest-even, as torch's <c>.to(torch.bfloat16)</c> does.</summary>
    public static byte[] BFloat16Bytes(float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), ToBFloat16(values[i]));
        return bytes;
    }

    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    public static byte[] Float16Bytes(float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]);
        return bytes;
    }
}
