using Qwen.Inference.Engine;
using Qwen.Inference.Runtime;

namespace Qwen.Inference.Batching;

/// <summary>
/// Re-lays out batch KV when the batch's membership changes: copies the chosen rows (from one
/// or several grids, a row may repeat) into new tensors, each row right-aligned to the longest
/// one so that all padding stays on the left and is masked. Leading columns that are padding
/// in every chosen row are dropped, so the grid shrinks when its longest sequence leaves.
/// </summary>
internal static class KvGridComposer
{
    public static KvGrid Compose(IReadOnlyList<GridRow> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("a grid needs at least one row", nameof(rows));
        int[] used = rows.Select(r => r.Grid.UsedLength(r.Row)).ToArray();
        int length = used.Max();
        int layers = rows[0].Grid.Cache.Keys.Count;

        // Keys and values of every layer are independent copies: spread them over the cores.
        var tensors = new OrtValue?[2 * layers];
        try
        {
            Parallel.For(0, tensors.Length, t =>
            {
                var cache = (Func<GridRow, OrtValue>)(t < layers ? row => row.Grid.Cache.Keys[t] : row => row.Grid.Cache.Values[t - layers]);
                tensors[t] = ComposeTensor(rows, used, length, cache);
            });
        }
        catch
        {
            foreach (var tensor in tensors) tensor?.Dispose();
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
        return new KvGrid(KvCache.FromTensors(tensors[..layers]!, tensors[layers..]!, rows.Count, length), mask, realLengths);
    }

    private static OrtValue ComposeTensor(IReadOnlyList<GridRow> rows, int[] used, int length, Func<GridRow, OrtValue> tensorOf) =>
        tensorOf(rows[0]).ElementType == TensorElementType.Float16
            ? Compose<Half>(rows, used, length, tensorOf)
            : Compose<float>(rows, used, length, tensorOf);

    /// <summary>Copies [row, head, last used positions, :] of each source into [i, head, right-aligned, :].</summary>
    private static OrtValue Compose<T>(IReadOnlyList<GridRow> rows, int[] used, int length, Func<GridRow, OrtValue> tensorOf) where T : unmanaged
    {
        long[] shape = tensorOf(rows[0]).Shape;
        int heads = (int)shape[1], headDim = (int)shape[3];
        var result = new T[rows.Count * heads * length * headDim];
        for (int i = 0; i < rows.Count; i++)
        {
            var (grid, row) = rows[i];
            ReadOnlySpan<T> source = tensorOf(rows[i]).GetTensorSpan<T>();
            int sourceLength = grid.Length;
            for (int h = 0; h < heads; h++)
            {
                int from = ((row * heads + h) * sourceLength + sourceLength - used[i]) * headDim;
                int to = ((i * heads + h) * length + length - used[i]) * headDim;
                source.Slice(from, used[i] * headDim).CopyTo(result.AsSpan(to));
            }
        }
        return OrtValue.CreateTensor(result, [rows.Count, heads, length, headDim]);
    }
}
