using FluentAssertions;
using Qwen.Api.Tests.Cluster;
using Qwen.Observability.Prometheus;
using Xunit;

namespace Qwen.Api.Tests.Observability;

/// <summary>A two-silo cluster (s1, s2) behind one Api, shared by the metrics and dashboard tests.</summary>
public sealed class ObservedCluster : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await TestCluster.StartAsync(silos: 2);
        await Cluster.WaitForActiveSilosAsync(["s1", "s2"], TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>GET a /metrics page and parse it strictly (a format error fails the test).</summary>
    public async Task<IReadOnlyList<MetricFamily>> ScrapeAsync(string baseUrl)
    {
        using var response = await Cluster.Http.GetAsync(baseUrl + "/metrics");
        response.EnsureSuccessStatusCode();
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        return PrometheusTextParser.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Scrapes until <paramref name="ready"/> holds (the Api's cluster totals come from the silos' status reports, polled
    /// every second, so they may lag a moment); returns the last scrape either way, for the assertions.
    /// </summary>
    public async Task<IReadOnlyList<MetricFamily>> ScrapeUntilAsync(string baseUrl, Func<IReadOnlyList<MetricFamily>, bool> ready)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var families = await ScrapeAsync(baseUrl);
            if (ready(families) || DateTime.UtcNow > deadline) return families;
            await Task.Delay(200);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ObservedClusterCollection : ICollectionFixture<ObservedCluster>
{
    public const string Name = "observed cluster";
}
