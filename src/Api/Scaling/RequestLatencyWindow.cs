namespace Qwen.Api.Scaling;

/// <summary>Latencies of recently served model requests (chat turns, sentiment), kept for a sliding window.</summary>
public sealed class RequestLatencyWindow(TimeProvider clock)
{
    private readonly Lock _gate = new();
    private readonly Queue<(DateTimeOffset At, double Ms)> _samples = new();

    public void Record(double milliseconds)
    {
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            _samples.Enqueue((now, milliseconds));
            // Bounded memory whatever the request rate: old samples go first.
            while (_samples.Count > 20_000) _samples.Dequeue();
        }
    }

    /// <summary>The 90th percentile (nearest rank) of requests finished after <paramref name="since"/>, and how many there were.</summary>
    public (double P90Ms, int Count) P90Since(DateTimeOffset since)
    {
        double[] values;
        lock (_gate)
        {
            while (_samples.Count > 0 && _samples.Peek().At < since - TimeSpan.FromMinutes(10)) _samples.Dequeue();
            values = _samples.Where(s => s.At >= since).Select(s => s.Ms).ToArray();
        }
        if (values.Length == 0) return (0, 0);
        Array.Sort(values);
        int rank = (int)Math.Ceiling(0.9 * values.Length) - 1;
        return (values[Math.Clamp(rank, 0, values.Length - 1)], values.Length);
    }
}
