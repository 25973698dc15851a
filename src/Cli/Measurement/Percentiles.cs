namespace Qwen.Cli.Measurement;

/// <summary>Percentiles of measured values (linear interpolation between closest ranks).</summary>
internal static class Percentiles
{
    /// <returns>The percentile, or null for no values.</returns>
    public static double? Of(IReadOnlyList<double> values, double percentile)
    {
        if (values.Count == 0) return null;
        var sorted = values.Order().ToArray();
        double rank = percentile / 100 * (sorted.Length - 1);
        int low = (int)Math.Floor(rank);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }
}
