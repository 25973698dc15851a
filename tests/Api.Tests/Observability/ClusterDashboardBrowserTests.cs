using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Observability;

/// <summary>Headless Chromium on both dashboards of a two-silo cluster (s1, s2) behind one Api, under load.</summary>
[Collection(ObservedClusterCollection.Name)]
public sealed class ClusterDashboardBrowserTests(ObservedCluster fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Both_dashboards_show_every_silo_live_charts_per_task_latency_and_recent_errors()
    {
        var cluster = fixture.Cluster;
        await new DashboardBrowsing(cluster.ApiUrl, output).CheckBothDashboardsAsync(["s1", "s2"], async () =>
            (await cluster.SendRawAsync(HttpMethod.Post, "/v1/sentiment", "{\"text\": 12}")).Status);
    }
}
