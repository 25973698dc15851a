using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace Qwen.Inference.Checkpoints;

/// <summary>
/// One <c>.safetensors</c> file, memory-mapped read-only: an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw data.
/// Tensors are read straight from the mapping, so a 1 GB file is never loaded whole.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The format's own limit on the header size; a larger value means a damaged file.</summary>
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;
    private readonly long _dataLength;
    private readonly Dictionary<string, SafetensorsTensor> _tensors;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataStart, long dataLength,
        Dictionary<string, SafetensorsTensor> tensors)
    {
        Path = path;
        _map = map;
        _view = view;
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _data = start + view.PointerOffset + dataStart;
        _dataLength = dataLength;
        _tensors = tensors;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, SafetensorsTensor> Tensors => _tensors;

    /// <summary>Opens and checks the file: header in range and valid, every tensor's bytes inside the data section.</summary>
    public static SafetensorsFile Open(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        if (!File.Exists(path)) throw new InvalidModelException($"{name}: file not found at '{path}'");
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8)
            throw new InvalidModelException($"{name}: truncated file ({fileLength} bytes; a safetensors file starts with an 8-byte header length)");

        byte[] header;
        using (var stream = File.OpenRead(path))
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            stream.ReadExactly(lengthBytes);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > (ulong)(fileLength - 8))
                throw new InvalidModelException(
                    $"{name}: header length {headerLength} runs past the end of the file ({fileLength} bytes); the file is truncated or not safetensors");
            if (headerLength > MaxHeaderBytes)
                throw new InvalidModelException($"{name}: header length {headerLength} exceeds the format's limit of {MaxHeaderBytes} bytes");
            header = new byte[headerLength];
            stream.ReadExactly(header);
        }

        long dataStart = 8 + header.Length;
        long dataLength = fileLength - dataStart;
        var tensors = ParseHeader(name, header, dataLength);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafetensorsFile(path, map, view, dataStart, dataLength, tensors);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>Reads a tensor, widened to float32, into <paramref name="destination"/> (its exact element count).</summary>
    public void Read(string tensorName, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string file = System.IO.Path.GetFileName(Path);
        if (!_tensors.TryGetValue(tensorName, out var tensor))
            throw new InvalidModelException($"{file}: no tensor '{tensorName}'");
        SafetensorsDtype dtype = tensor.Dtype
            ?? throw new InvalidModelException($"{file}: tensor '{tensorName}' has dtype {tensor.DtypeName}; supported are F32, F16 and BF16");
        if (destination.Length != tensor.ElementCount)
            throw new ArgumentException($"'{tensorName}' has {tensor.ElementCount} elements but the destination holds {destination.Length}", nameof(destination));
        // Chunks keep every span under 2 GB whatever the tensor's size.
        const int chunkElements = 1 << 26;
        int size = dtype.ElementSize();
        for (long first = 0; first < destination.Length; first += chunkElements)
        {
            int count = (int)Math.Min(chunkElements, destination.Length - first);
            var source = new ReadOnlySpan<byte>(_data + tensor.Begin + first * size, count * size);
            FloatWidening.Widen(source, dtype, destination.Slice((int)first, count));
        }
        MappedPages.Release(_data + tensor.Begin, tensor.End - tensor.Begin);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private static Dictionary<string, SafetensorsTensor> ParseHeader(string file, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidModelException($"{file}: header is not valid JSON (at byte {e.BytePositionInLine})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidModelException($"{file}: header is not a JSON object");
            var tensors = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                var tensor = ParseEntry(file, entry);
                if (tensor.Begin < 0 || tensor.End < tensor.Begin || tensor.End > dataLength)
                    throw new InvalidModelException(
                        $"{file}: tensor '{tensor.Name}' data_offsets [{tensor.Begin}, {tensor.End}] lie outside the {dataLength}-byte data section; the file is truncated or damaged");
                if (tensor.Dtype is SafetensorsDtype dtype && tensor.End - tensor.Begin != tensor.ElementCount * dtype.ElementSize())
                    throw new InvalidModelException(
                        $"{file}: tensor '{tensor.Name}' has {tensor.End - tensor.Begin} bytes but {tensor.DtypeName} {tensor.ShapeText} needs {tensor.ElementCount * dtype.ElementSize()}");
                tensors[tensor.Name] = tensor;
            }
            return tensors;
        }
    }

    private static SafetensorsTensor ParseEntry(string file, JsonProperty entry)
    {
        try
        {
            var value = entry.Value;
            string dtype = value.GetProperty("dtype").GetString() ?? throw new FormatException("dtype is null");
            long[] shape = value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (shape.Any(d => d < 0)) throw new FormatException("negative dimension");
            long[] offsets = value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (offsets.Length != 2) throw new FormatException("data_offsets must hold two numbers");
            return new SafetensorsTensor(entry.Name, dtype, shape, offsets[0], offsets[1]);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidModelException($"{file}: header entry '{entry.Name}' is malformed ({e.Message})", e);
        }
    }
}
