using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Qwen.Inference.Engine;

/// <summary>
/// The past keys and values of a batch of sequences, one [batch, kv_heads, past, head_dim]
/// tensor per layer for keys and one for values. Each step replaces them with the
/// session's present outputs.
/// </summary>
public sealed class KvCache : IDisposable
{
    private OrtValue[] _keys;
    private OrtValue[] _values;

    private KvCache(OrtValue[] keys, OrtValue[] values, int batchSize, int pastLength)
    {
        _keys = keys;
        _values = values;
        BatchSize = batchSize;
        PastLength = pastLength;
    }

    public int BatchSize { get; }

    /// <summary>Positions already in the cache (including left padding).</summary>
    public int PastLength { get; private set; }

    internal IReadOnlyList<OrtValue> Keys => _keys;
    internal IReadOnlyList<OrtValue> Values => _values;

    internal static KvCache Empty(int layers, int batchSize, int kvHeads, int headDim, TensorElementType type)
    {
        long[] shape = [batchSize, kvHeads, 0, headDim];
        return new KvCache(
            Enumerable.Range(0, layers).Select(_ => EmptyTensor(type, shape)).ToArray(),
            Enumerable.Range(0, layers).Select(_ => EmptyTensor(type, shape)).ToArray(),
            batchSize, 0);
    }

    /// <summary>A cache over tensors built elsewhere (a re-laid-out batch); it takes ownership of them.</summary>
    internal static KvCache FromTensors(OrtValue[] keys, OrtValue[] values, int batchSize, int pastLength) =>
        new(keys, values, batchSize, pastLength);

    private static OrtValue EmptyTensor(TensorElementType type, long[] shape) => type == TensorElementType.Float16
        ? OrtValue.CreateTensorValueFromMemory(Array.Empty<Float16>(), shape)
        : OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), shape);

    internal void Replace(OrtValue[] keys, OrtValue[] values, int pastLength)
    {
        DisposeAll();
        _keys = keys;
        _values = values;
        PastLength = pastLength;
    }

    /// <summary>A new cache in which each sequence of this one appears <paramref name="copies"/> times in a row.</summary>
    public KvCache RepeatEach(int copies)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(copies, 1);
        return new KvCache(
            _keys.Select(k => RepeatTensor(k, copies)).ToArray(),
            _values.Select(v => RepeatTensor(v, copies)).ToArray(),
            BatchSize * copies, PastLength);
    }

    private static OrtValue RepeatTensor(OrtValue source, int copies)
    {
        var info = source.GetTensorTypeAndShape();
        long[] shape = info.Shape;
        shape[0] *= copies;
        return info.ElementDataType == TensorElementType.Float16
            ? Repeat<Float16>(source, copies, shape)
            : Repeat<float>(source, copies, shape);
    }

    private static OrtValue Repeat<T>(OrtValue source, int copies, long[] shape) where T : unmanaged
    {
        var data = source.GetTensorDataAsSpan<T>();
        int rows = (int)(shape[0] / copies);
        int rowLength = rows == 0 ? 0 : data.Length / rows;
        var result = new T[data.Length * copies];
        for (int r = 0; r < rows; r++)
        {
            var row = data.Slice(r * rowLength, rowLength);
            for (int c = 0; c < copies; c++) row.CopyTo(result.AsSpan((r * copies + c) * rowLength));
        }
        return OrtValue.CreateTensorValueFromMemory(result, shape);
    }

    private void DisposeAll()
    {
        foreach (var v in _keys) v.Dispose();
        foreach (var v in _values) v.Dispose();
    }

    public void Dispose() => DisposeAll();
}
