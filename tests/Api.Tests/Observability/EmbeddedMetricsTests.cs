using System.Net;
using System.Text.Json;
using FluentAssertions;
using Qwen.Observability.Prometheus;
using Xunit;

namespace Qwen.Api.Tests.Observability;

/// <summary>The embedded default (one silo inside the Api process): the same metrics, status and dashboard.</summary>
public sealed class EmbeddedMetricsTests : IClassFixture<EmbeddedApi>, IDisposable
{
    private readonly EmbeddedApi _api;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public EmbeddedMetricsTests(EmbeddedApi api) => _api = api;

    [Fact]
    public async Task The_embedded_silo_is_measured_labelled_and_shown()
    {
        (await _http.PostAsync(_api.Url + "/v1/conversations/embedded-user/messages", Json("{\"content\":\"hi\"}"))).EnsureSuccessStatusCode();
        (await _http.PostAsync(_api.Url + "/v1/sentiment", Json("{\"text\":1}"))).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await _http.GetAsync(_api.Url + "/v1/no-such-route")).StatusCode.Should().Be(HttpStatusCode.NotFound);

        // The cluster totals come from the silo's status report, polled every second: wait for one taken after the turn
        // (a poll taken while the reply was still being prefilled already counts the conversation but no tokens yet).
        var families = await ScrapeUntilAsync(f =>
            f.Sum("qwen_cluster_silo_active_conversations") == 1 && f.Sum("qwen_cluster_inference_generated_tokens_total") > 0);

        families.Sum("qwen_api_requests_total", ("task", "chat"), ("status", "200")).Should().Be(1);
        families.Sum("qwen_api_requests_total", ("task", "sentiment"), ("status", "400")).Should().Be(1);
        families.Sum("qwen_api_requests_total", ("task", "unmatched"), ("status", "404")).Should().Be(1);
        families.Samples("qwen_inference_generated_tokens_total").Should().ContainSingle().Which.Label("silo").Should().Be("solo");
        families.Sum("qwen_inference_generated_tokens_total").Should().BeGreaterThan(0);
        families.Sum("qwen_silo_active_conversations", ("silo", "solo")).Should().Be(1);
        families.Sum("qwen_cluster_silo_active_conversations").Should().Be(1);
        families.Sum("qwen_cluster_silo_up", ("silo", "solo")).Should().Be(1);
        families.Sum("qwen_cluster_silos", ("status", "active")).Should().Be(1);
        families.Sum("qwen_cluster_process_resident_memory_bytes").Should().BeGreaterThan(0);
        families.Sum("qwen_cluster_inference_generated_tokens_total").Should().BeGreaterThan(0);
        families.Sum("qwen_cluster_inference_kv_budget").Should().Be(families.Sum("qwen_inference_kv_budget", ("silo", "solo")));
        // The byte figures are the position figures times one position's cost, which the tiny model makes positive.
        double bytesPerPosition = families.Sum("qwen_inference_kv_budget_bytes", ("silo", "solo")) / families.Sum("qwen_inference_kv_budget", ("silo", "solo"));
        bytesPerPosition.Should().BePositive().And.Be(Math.Floor(bytesPerPosition), "a position costs a whole number of bytes");
        families.Sum("qwen_inference_kv_capacity_bytes", ("silo", "solo"))
            .Should().Be(families.Sum("qwen_inference_kv_capacity", ("silo", "solo")) * bytesPerPosition);
        families.Sum("qwen_inference_prefix_cache_bytes", ("silo", "solo"))
            .Should().Be(families.Sum("qwen_inference_prefix_cache_tokens", ("silo", "solo")) * bytesPerPosition);
        families.Sum("qwen_inference_step_duration_seconds_count", ("silo", "solo")).Should().BeGreaterThan(0);
        // Orleans' own meters and .NET's runtime meter, next to ours.
        families.Should().Contain(f => f.Name.StartsWith("orleans_", StringComparison.Ordinal));
        families.Sum("orleans_catalog_activations").Should().BeGreaterThan(0, "the conversation grain and the silo grain are active");
        families.Should().Contain(f => f.Name.StartsWith("dotnet_gc_", StringComparison.Ordinal));
        families.Sum("process_resident_memory_bytes").Should().BeGreaterThan(0);

        using var status = JsonDocument.Parse(await _http.GetStringAsync(_api.Url + "/v1/cluster/status"));
        var root = status.RootElement;
        root.GetProperty("mode").GetString().Should().Be("embedded");
        var silo = root.GetProperty("silos").EnumerateArray().Should().ContainSingle().Subject;
        silo.GetProperty("id").GetString().Should().Be("solo");
        silo.GetProperty("status").GetString().Should().Be("active");
        silo.GetProperty("reachable").GetBoolean().Should().BeTrue();
        silo.GetProperty("active_conversations").GetInt32().Should().Be(1);
        silo.GetProperty("rss_bytes").GetInt64().Should().BeGreaterThan(0);
        silo.GetProperty("kv_budget").GetInt32().Should().BeGreaterThan(0);
        silo.GetProperty("generated_tokens").GetInt64().Should().BeGreaterThan(0);
        var errors = root.GetProperty("recent_errors").EnumerateArray().ToArray();
        errors.Select(e => e.GetProperty("status").GetInt32()).Should().Equal(404, 400);
        errors[1].GetProperty("detail").GetString().Should().Contain("must be a string");
        // At least: the other test of this class may have left a hang-up (499) in the window.
        root.GetProperty("requests").GetProperty("by_task").GetProperty("chat").GetProperty("count").GetInt32().Should().BeGreaterThanOrEqualTo(1);

        var page = await _http.GetAsync(_api.Url + "/dashboard");
        page.StatusCode.Should().Be(HttpStatusCode.OK, "/dashboard redirects to the page");
        (await page.Content.ReadAsStringAsync()).Should().Contain("vendor/uPlot.iife.min.js");
        (await _http.GetAsync(_api.Url + "/dashboard/vendor/uPlot.iife.min.js")).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task A_client_that_hangs_up_is_counted_as_499_and_not_as_an_error()
    {
        // The body never finishes, so the request is routed and waits in the endpoint until the client leaves.
        using var leave = new CancellationTokenSource();
        var body = new StalledBody("{\"content\":\"hel");
        var request = _http.PostAsync(_api.Url + "/v1/conversations/hang-up-user/messages", body, leave.Token);
        await ScrapeUntilAsync(f => f.Sum("qwen_api_in_flight") == 1);
        await leave.CancelAsync();
        await request.Invoking(r => r).Should().ThrowAsync<OperationCanceledException>();

        var families = await ScrapeUntilAsync(f => f.Sum("qwen_api_requests_total", ("status", "499")) == 1);

        families.Sum("qwen_api_requests_total", ("task", "chat"), ("status", "499")).Should().Be(1);
        using var status = JsonDocument.Parse(await _http.GetStringAsync(_api.Url + "/v1/cluster/status"));
        var root = status.RootElement;
        root.GetProperty("recent_errors").EnumerateArray().Should().NotContain(e => e.GetProperty("status").GetInt32() == 499);
        var requests = root.GetProperty("requests");
        requests.GetProperty("by_task").GetProperty("chat").GetProperty("errors").GetInt32()
            .Should().Be(0, "a hang-up is not a failure of the service");
        requests.GetProperty("client_closed_per_second").GetDouble().Should().BeGreaterThan(0);
    }

    /// <summary>A request body that sends its start and then nothing more, until the request is cancelled.</summary>
    private sealed class StalledBody(string start) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(start), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>Scrapes until <paramref name="ready"/> holds or a generous deadline passes; returns the last scrape for the assertions.</summary>
    private async Task<IReadOnlyList<MetricFamily>> ScrapeUntilAsync(Func<IReadOnlyList<MetricFamily>, bool> ready)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var families = PrometheusTextParser.Parse(await _http.GetStringAsync(_api.Url + "/metrics"));
            if (ready(families) || DateTime.UtcNow > deadline) return families;
            await Task.Delay(200);
        }
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    public void Dispose() => _http.Dispose();
}
