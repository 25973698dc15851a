namespace Qwen.Api.Observability;

/// <summary>
/// The public requests of the last minute (time, task, status, latency), for the dashboard's
/// rates and latency percentiles; older entries are dropped as new ones arrive.
/// </summary>
public sealed class RequestWindow(TimeProvider time)
{
    public static readonly TimeSpan Span = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly Queue<Entry> _entries = new();

    public readonly record struct Entry(DateTimeOffset At, string Task, int Status, double LatencyMs)
    {
        /// <summary>Failed requests; a client that hung up (499) is not a failure of the service.</summary>
        public bool IsError => IsFailure(Status);

        public bool ClientClosed => Status == ClientClosedRequest;

        public bool IsAnswered => Status < 400;
    }

    /// <summary>The status a request gets when its client went away before the answer (as proxies count it).</summary>
    public const int ClientClosedRequest = 499;

    /// <summary>Whether a status counts as an error in the dashboard's rates and lists.</summary>
    public static bool IsFailure(int status) => status >= 400 && status != ClientClosedRequest;

    public void Add(string task, int status, TimeSpan latency)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            _entries.Enqueue(new Entry(now, task, status, latency.TotalMilliseconds));
            while (_entries.Count > 0 && now - _entries.Peek().At > Span) _entries.Dequeue();
            while (_entries.Count > 100_000) _entries.Dequeue(); // bounded under any load
        }
    }

    /// <summary>The requests that ended within <paramref name="window"/> of now.</summary>
    public IReadOnlyList<Entry> Recent(TimeSpan window)
    {
        var since = time.GetUtcNow() - window;
        lock (_lock) return _entries.Where(e => e.At >= since).ToArray();
    }

    /// <summary>The value below which <paramref name="percentile"/> percent of <paramref name="sorted"/> fall (nearest rank).</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double percentile)
    {
        if (sorted.Count == 0) return 0;
        int rank = (int)Math.Ceiling(percentile / 100 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}
