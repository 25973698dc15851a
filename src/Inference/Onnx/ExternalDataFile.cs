using Google.Protobuf;
using Qwen.Inference.Onnx.Proto;

namespace Qwen.Inference.Onnx;

/// <summary>
/// The side file that holds a model's large initializers (ONNX "external data"), so the
/// .onnx protobuf stays far below protobuf's 2 GB limit. Each tensor starts on a 4 KiB
/// boundary, which lets ONNX Runtime memory-map it instead of copying.
/// </summary>
internal sealed class ExternalDataFile : IDisposable
{
    private const int Alignment = 4096;
    private readonly FileStream _stream;

    public ExternalDataFile(string path)
    {
        Path = path;
        FileName = System.IO.Path.GetFileName(path);
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
    }

    public string Path { get; }
    public string FileName { get; }
    public long Length => _stream.Length;

    /// <summary>Appends <paramref name="bytes"/> and points <paramref name="tensor"/> at them.</summary>
    public void Append(TensorProto tensor, ReadOnlySpan<byte> bytes)
    {
        long offset = (_stream.Position + Alignment - 1) / Alignment * Alignment;
        if (offset != _stream.Position)
        {
            Span<byte> zeros = stackalloc byte[(int)(offset - _stream.Position)];
            zeros.Clear();
            _stream.Write(zeros);
        }
        _stream.Write(bytes);
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = FileName });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    public void Dispose() => _stream.Dispose();
}
