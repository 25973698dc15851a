namespace Qwen.Cli.Load;

/// <summary>Samples the server's RSS from its /metrics now and then; "n/a" (null) when the server does not publish one.</summary>
internal sealed class ServerMemoryProbe(HttpClient http, Uri baseUrl)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The metric the last successful reading came from.</summary>
    public string? Metric { get; private set; }

    public async Task<double?> ReadAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ProbeTimeout);
        try
        {
            using var response = await http.GetAsync(new Uri(baseUrl, "metrics"), deadline.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return null;
            string text = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
            if (PrometheusText.Rss(text) is not { } reading) return null;
            Metric = reading.Metric;
            return reading.Megabytes;
        }
        catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    /// <summary>Reads every <paramref name="interval"/> until <paramref name="until"/> completes; returns the last and the highest reading.</summary>
    public async Task<(double? Last, double? Peak)> WatchAsync(Task until, TimeSpan interval, CancellationToken cancellationToken)
    {
        double? last = null, peak = null;
        while (true)
        {
            if (await ReadAsync(cancellationToken).ConfigureAwait(false) is { } mb)
            {
                last = mb;
                peak = Math.Max(peak ?? mb, mb);
            }
            if (until.IsCompleted) return (last, peak);
            await Task.WhenAny(until, Task.Delay(interval, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}
