using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Qwen.Inference.Models;

namespace Qwen.Deploy.Tests;

/// <summary>
/// Writes a model's weights as a Hugging Face checkpoint file (model.safetensors, float32): an
/// 8-byte little-endian header length, the JSON header (dtype, shape, byte offsets per tensor,
/// padded with spaces to 8 bytes), then the tensors' bytes in order.
/// </summary>
internal static class SafetensorsCheckpoint
{
    public static void Write(string path, QwenConfig config, IWeightSource weights)
    {
        var parameters = Qwen2Parameters.For(config);
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var p in parameters)
        {
            long bytes = p.ElementCount * sizeof(float);
            header[p.Name] = new { dtype = "F32", shape = p.Shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }

        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        file.Write(length);
        file.Write(json);
        for (int i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
        foreach (var p in parameters)
        {
            var values = new float[p.ElementCount];
            weights.Fill(p.Name, values);
            var bytes = new byte[values.Length * sizeof(float)];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
            file.Write(bytes);
        }
    }
}
