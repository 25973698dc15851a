namespace Qwen.Inference.Generation;

/// <summary>
/// The k-th largest logit, counting duplicates (what <c>torch.topk(scores, k).values[-1]</c> returns), by radix
/// selection on ordered keys: a few linear passes with no input-dependent worst case and no full sort.
/// </summary>
internal static class KthLargest
{
    private const int HighBits = 11, MidBits = 11, LowBits = 10;

    /// <param name="scratch">At least <paramref name="values"/>.Length entries; overwritten.</param>
    public static float Find(ReadOnlySpan<float> values, int k, Span<uint> scratch)
    {
        if (k < 1 || k > values.Length) throw new ArgumentOutOfRangeException(nameof(k));
        Span<int> counts = stackalloc int[1 << HighBits];

        // Descending keys turn "k-th largest" into "k-th smallest"; each pass fixes one digit of that key.
        counts.Clear();
        foreach (float v in values) counts[(int)(Descending(v) >> (MidBits + LowBits))]++;
        uint high = PickDigit(counts, ref k);

        int m = 0;
        foreach (float v in values)
        {
            uint key = Descending(v);
            if (key >> (MidBits + LowBits) == high) scratch[m++] = key;
        }
        Span<uint> bucket = scratch[..m];

        const uint midMask = (1u << MidBits) - 1;
        counts.Clear();
        foreach (uint key in bucket) counts[(int)((key >> LowBits) & midMask)]++;
        uint mid = PickDigit(counts, ref k);

        m = 0;
        for (int i = 0; i < bucket.Length; i++)
        {
            if (((bucket[i] >> LowBits) & midMask) == mid) bucket[m++] = bucket[i];
        }

        const uint lowMask = (1u << LowBits) - 1;
        Span<int> lowCounts = counts[..(1 << LowBits)];
        lowCounts.Clear();
        foreach (uint key in bucket[..m]) lowCounts[(int)(key & lowMask)]++;
        uint low = PickDigit(lowCounts, ref k);

        uint descending = (high << (MidBits + LowBits)) | (mid << LowBits) | low;
        return FloatOrder.FromKey(~descending);
    }

    private static uint Descending(float value) => ~FloatOrder.ToKey(value);

    /// <summary>The digit holding the k-th smallest key; k becomes the rank within that digit.</summary>
    private static uint PickDigit(ReadOnlySpan<int> counts, ref int k)
    {
        int digit = 0;
        while (k > counts[digit])
        {
            k -= counts[digit];
            digit++;
        }
        return (uint)digit;
    }
}
