using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Qwen.Cli.Serving;
using Qwen.Cli.Workload;

namespace Qwen.Cli.Load;

/// <summary>
/// Closed-loop virtual users against the public HTTP API, one concurrency level at a time for a
/// fixed duration, with the server's RSS read from /metrics while the level runs.
/// </summary>
internal sealed class HttpLoadTest : IDisposable
{
    private static readonly TimeSpan RssInterval = TimeSpan.FromSeconds(2);

    private readonly HttpClient _http;
    private readonly Uri _baseUrl;
    private readonly WorkloadMix _mix;
    private readonly int _seed;
    private readonly TimeSpan _timeout;
    // Distinct user ids per run, so a repeated test starts fresh conversations.
    private readonly string _runTag = Guid.NewGuid().ToString("N")[..8];

    public HttpLoadTest(Uri baseUrl, WorkloadMix mix, int seed, TimeSpan requestTimeout)
    {
        _baseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        _mix = mix;
        _seed = seed;
        _timeout = requestTimeout;
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        // An Api that checks keys: from the environment, never a command-line option (ps would show it).
        if (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key)
            _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Memory = new ServerMemoryProbe(_http, _baseUrl);
    }

    /// <summary>The environment variable holding the API key to send (an admin key also lets the memory probe read /metrics).</summary>
    public const string ApiKeyVariable = "QWEN_API_KEY";

    public ServerMemoryProbe Memory { get; }

    public string Url => _baseUrl.AbsoluteUri;

    /// <exception cref="ArgumentException">The server cannot be reached, is not healthy, or does not become ready in time.</exception>
    public async Task CheckServerAsync(TimeSpan readyTimeout, Action<string> log, CancellationToken cancellationToken)
    {
        var health = await GetStatusAsync("healthz", cancellationToken).ConfigureAwait(false);
        if (health.Error is not null) throw new ArgumentException($"cannot reach {Url}: {health.Error}");
        if (health.Status != HttpStatusCode.OK) throw new ArgumentException($"{Url}healthz answered {(int)health.Status}; is this the Qwen Api?");
        var deadline = Stopwatch.StartNew();
        bool announced = false;
        while (true)
        {
            var ready = await GetStatusAsync("readyz", cancellationToken).ConfigureAwait(false);
            if (ready.Status is HttpStatusCode.OK or HttpStatusCode.NotFound) return;
            if (deadline.Elapsed > readyTimeout)
                throw new ArgumentException($"{Url} did not become ready within {readyTimeout.TotalSeconds:F0} s (/readyz: {ready.Error ?? ((int)ready.Status).ToString(System.Globalization.CultureInfo.InvariantCulture)})");
            if (!announced) log($"waiting for {Url}readyz ...");
            announced = true;
            await Task.Delay(500, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<LoadRow> RunLevelAsync(int concurrency, TimeSpan duration, LiveCounters live, CancellationToken cancellationToken)
    {
        var samples = new ConcurrentQueue<LoadSample>();
        var clients = Enumerable.Range(0, concurrency)
            .Select(u => new HttpLoadClient(_http, _baseUrl, $"load-{_runTag}-c{concurrency}-u{u}", _timeout)).ToArray();
        var watch = Stopwatch.StartNew();
        var users = clients.Select((client, u) => Task.Run(async () =>
        {
            var random = new Random(HashCode.Combine(_seed, concurrency, u));
            while (watch.Elapsed < duration)
            {
                var sample = await client.RunAsync(WorkloadRequest.Next(random, _mix), cancellationToken).ConfigureAwait(false);
                samples.Enqueue(sample);
                live.Record(sample.Succeeded, 0);
                // A refused user waits as the server asks (as a well-behaved client would), within the level's time.
                if (sample.RetryAfter is { } wait && wait > TimeSpan.Zero)
                {
                    var remaining = duration - watch.Elapsed;
                    if (remaining > TimeSpan.Zero) await Task.Delay(wait < remaining ? wait : remaining, cancellationToken).ConfigureAwait(false);
                }
            }
        }, cancellationToken)).ToArray();
        var all = Task.WhenAll(users);
        var (rssLast, rssPeak) = await Memory.WatchAsync(all, RssInterval, cancellationToken).ConfigureAwait(false);
        await all.ConfigureAwait(false);
        var elapsed = watch.Elapsed;
        await Task.WhenAll(clients.Select(c => c.ForgetAsync(cancellationToken))).ConfigureAwait(false);
        return LoadRow.From(concurrency, samples, elapsed, rssLast, rssPeak);
    }

    private async Task<(HttpStatusCode Status, string? Error)> GetStatusAsync(string path, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            using var response = await _http.GetAsync(new Uri(_baseUrl, path), deadline.Token).ConfigureAwait(false);
            return (response.StatusCode, null);
        }
        catch (HttpRequestException e)
        {
            return (0, e.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (0, "no answer within 5 s");
        }
    }

    public void Dispose() => _http.Dispose();
}
