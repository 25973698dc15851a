using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Observability;

/// <summary>Headless Chromium on both dashboards of the embedded default (one Api process, silo "solo"), under load.</summary>
public sealed class DashboardBrowserTests(EmbeddedApi api, ITestOutputHelper output) : IClassFixture<EmbeddedApi>
{
    [Fact]
    public async Task Both_dashboards_show_the_silo_live_charts_per_task_latency_and_recent_errors()
    {
        using var http = new HttpClient { BaseAddress = new Uri(api.Url) };
        await new DashboardBrowsing(api.Url, output).CheckBothDashboardsAsync(["solo"], async () =>
        {
            using var response = await http.PostAsync("/v1/sentiment", DashboardBrowsing.Json("{\"text\": 12}"));
            return (int)response.StatusCode;
        });
    }
}
