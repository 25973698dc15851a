using Qwen.Inference.Engine;

namespace Qwen.Inference.Batching;

/// <summary>
/// Sequences sharing one KV cache, left-padded to a common length: the cache, each row's
/// attention mask over the cached positions, and each row's count of real tokens (which is
/// also the position of its next token, so a row computes exactly what it would alone).
/// </summary>
internal sealed class KvGrid : IDisposable
{
    private Action? _releaseBuffers;

    /// <param name="releaseBuffers">Called once the cache's initial tensors are gone (after the
    /// first step replaced them, or on disposal): gives back the memory they were built on.</param>
    public KvGrid(KvCache cache, long[] mask, int[] realLengths, Action? releaseBuffers = null)
    {
        if (mask.Length != cache.BatchSize * cache.PastLength)
            throw new ArgumentException($"the mask holds {mask.Length} values, not rows × length = {cache.BatchSize} × {cache.PastLength}");
        if (realLengths.Length != cache.BatchSize)
            throw new ArgumentException($"{realLengths.Length} real lengths for {cache.BatchSize} rows");
        Cache = cache;
        Mask = mask;
        RealLengths = realLengths;
        _releaseBuffers = releaseBuffers;
    }

    public KvCache Cache { get; }
    public int Rows => Cache.BatchSize;
    public int Length => Cache.PastLength;

    /// <summary>[rows, length] row-major: 1 where a cached position holds a real token.</summary>
    public long[] Mask { get; private set; }

    public int[] RealLengths { get; }

    /// <summary>Cached positions of a row from its first real token on (its leading padding excluded).</summary>
    public int UsedLength(int row)
    {
        var mask = Mask.AsSpan(row * Length, Length);
        int first = mask.IndexOf(1L);
        return first < 0 ? 0 : Length - first;
    }

    /// <summary>Records a step that appended <paramref name="newMask"/>'s extra columns; the cache has already grown.</summary>
    internal void Advance(long[] newMask, ReadOnlySpan<int> addedRealTokens)
    {
        Mask = newMask;
        for (int r = 0; r < Rows; r++) RealLengths[r] += addedRealTokens[r];
        ReleaseBuffers();
    }

    private void ReleaseBuffers()
    {
        _releaseBuffers?.Invoke();
        _releaseBuffers = null;
    }

    public void Dispose()
    {
        Cache.Dispose();
        ReleaseBuffers();
    }
}
