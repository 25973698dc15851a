using Qwen.Inference.Engine;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Qwen.Inference.Batching;

/// <summary>
/// Re-lays out batch KV when the batch's membership changes: copies the chosen rows (from one
/// or several grids, a row may repeat) into new tensors, each row right-aligned to the longest
/// one so that all padding stays on the left and is masked. Leading columns that are padding
/// in every chosen row are dropped, so the grid shrinks when its longest sequence leaves.
/// </summary>
internal sealed class KvGridComposer
{
    private readonly KvBufferPool _pool;

    /// <param name="layers">Decoder layers: the pool keeps one re-layout's worth of buffers (keys and values of each).</param>
    public KvGridComposer(int layers) => _pool = new KvBufferPool(2 * layers);

    public KvGrid Compose(IReadOnlyList<GridRow> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("a grid needs at least one row", nameof(rows));
        int[] used = rows.Select(r => r.Grid.UsedLength(r.Row)).ToArray();
        int length = used.Max();
        var first = rows[0].Grid.Cache;
        int layers = first.Keys.Count;
        var sources = first.Keys.Concat(first.Values).ToArray();

        // Keys and values of every layer are independent copies: spread them over the cores.
        var tensors = new KvTensor[2 * layers];
        try
        {
            Parallel.For(0, tensors.Length, t =>
            {
                Func<GridRow, OrtValue> tensorOf = t < layers ? row => row.Grid.Cache.Keys[t] : row => row.Grid.Cache.Values[t - layers];
                tensors[t] = sources[t].GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16
                    ? Compose<Float16>(rows, used, length, tensorOf)
                    : Compose<float>(rows, used, length, tensorOf);
            });
        }
        catch
        {
            foreach (var tensor in tensors) tensor?.Release();
            throw;
        }

        var mask = new long[rows.Count * length];
        var realLengths = new int[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var (grid, row) = rows[i];
            grid.Mask.AsSpan(row * grid.Length + grid.Length - used[i], used[i]).CopyTo(mask.AsSpan(i * length + length - used[i]));
            realLengths[i] = grid.RealLengths[row];
        }
        var values = tensors.Select(t => t.Value).ToArray();
        var cache = KvCache.FromTensors(values[..layers], values[layers..], rows.Count, length);
        return new KvGrid(cache, mask, realLengths, () =>
        {
            foreach (var tensor in tensors) tensor.ReturnBuffer();
        });
    }

    /// <summary>Copies [row, head, last used positions, :] of each source into [i, head, right-aligned, :], zeros to the left.</summary>
    private KvTensor Compose<T>(IReadOnlyList<GridRow> rows, int[] used, int length, Func<GridRow, OrtValue> tensorOf) where T : unmanaged
    {
        long[] shape = tensorOf(rows[0]).GetTensorTypeAndShape().Shape;
        int heads = (int)shape[1], headDim = (int)shape[3];
        int size = rows.Count * heads * length * headDim;
        T[] buffer = _pool.Rent<T>(size);
        var result = buffer.AsSpan(0, size);
        for (int i = 0; i < rows.Count; i++)
        {
            var (grid, row) = rows[i];
            ReadOnlySpan<T> source = tensorOf(rows[i]).GetTensorDataAsSpan<T>();
            int sourceLength = grid.Length, pad = length - used[i];
            for (int h = 0; h < heads; h++)
            {
                int from = ((row * heads + h) * sourceLength + sourceLength - used[i]) * headDim;
                int to = (i * heads + h) * length * headDim;
                result.Slice(to, pad * headDim).Clear();
                source.Slice(from, used[i] * headDim).CopyTo(result[(to + pad * headDim)..]);
            }
        }
        var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, size),
            [rows.Count, heads, length, headDim]);
        return new KvTensor(value, () => _pool.Return(buffer));
    }

    /// <summary>A composed tensor and how to give its buffer back once ORT no longer reads it.</summary>
    private sealed class KvTensor(OrtValue value, Action returnBuffer)
    {
        public OrtValue Value => value;

        public void ReturnBuffer() => returnBuffer();

        /// <summary>For a failed compose: the tensor was never handed out.</summary>
        public void Release()
        {
            value.Dispose();
            returnBuffer();
        }
    }
}
