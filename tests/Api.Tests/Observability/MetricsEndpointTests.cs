using FluentAssertions;
using Qwen.Observability.Prometheus;
using Xunit;

namespace Qwen.Api.Tests.Observability;

/// <summary>/metrics on the Api and on the silos of a real two-silo cluster.</summary>
[Collection(ObservedClusterCollection.Name)]
public sealed class MetricsEndpointTests(ObservedCluster fixture)
{
    private const string Requests = "qwen_api_requests_total";

    [Fact]
    public async Task Api_requests_are_counted_by_task_and_status_and_timed()
    {
        var cluster = fixture.Cluster;
        var before = await fixture.ScrapeAsync(cluster.ApiUrl);

        for (int i = 0; i < 3; i++) (await cluster.PostAsync("/v1/sentiment", new { text = $"metrics sentence {i}" })).Status.Should().Be(200);
        for (int i = 0; i < 2; i++) (await cluster.SendRawAsync(HttpMethod.Post, "/v1/sentiment", "{\"txt\":1}")).Status.Should().Be(400);
        (await cluster.PostAsync("/v1/conversations/metrics-user/messages", new { content = "hello" })).Status.Should().Be(200);
        (await cluster.GetAsync("/v1/conversations/metrics-user")).Status.Should().Be(200);

        var after = await fixture.ScrapeUntilAsync(cluster.ApiUrl, families =>
            families.Sum(Requests, ("task", "history"), ("status", "200")) > before.Sum(Requests, ("task", "history"), ("status", "200"))
            && families.Sum("qwen_cluster_inference_generated_tokens_total") > before.Sum("qwen_cluster_inference_generated_tokens_total"));
        double Delta(string sample, params (string, string)[] labels) => after.Sum(sample, labels) - before.Sum(sample, labels);

        Delta(Requests, ("task", "sentiment"), ("status", "200")).Should().Be(3);
        Delta(Requests, ("task", "sentiment"), ("status", "400")).Should().Be(2);
        Delta(Requests, ("task", "chat"), ("status", "200")).Should().Be(1);
        Delta(Requests, ("task", "history"), ("status", "200")).Should().Be(1);
        Delta("qwen_api_request_duration_seconds_count", ("task", "sentiment")).Should().Be(5);
        Delta("qwen_api_request_duration_seconds_bucket", ("task", "chat"), ("le", "+Inf")).Should().Be(1);
        after.Single(f => f.Name == Requests).Type.Should().Be(MetricType.Counter);
        after.Single(f => f.Name == "qwen_api_request_duration_seconds").Type.Should().Be(MetricType.Histogram);
        after.Sum("qwen_api_in_flight").Should().Be(0, "no public request is being answered while /metrics is read");
        after.Sum("process_resident_memory_bytes").Should().BeGreaterThan(0, "the Api's own process");
        Delta("qwen_cluster_inference_generated_tokens_total").Should().BeGreaterThan(0, "the chat reply's tokens, from the silos' reports");
    }

    [Fact]
    public async Task The_cluster_totals_on_the_api_add_up_the_silos_own_metrics()
    {
        var cluster = fixture.Cluster;
        // Work on both silos, so their inference figures are not all zero.
        for (int i = 0; i < 6; i++)
            (await cluster.PostAsync($"/v1/conversations/totals-user-{i}/messages", new { content = "hi" })).Status.Should().Be(200);
        var silos = new List<IReadOnlyList<MetricFamily>>();
        foreach (var (_, silo) in cluster.Silos) silos.Add(await fixture.ScrapeAsync(silo.Url));
        double SiloSum(string sample) => silos.Sum(f => f.Sum(sample));

        // No load runs now: once the Api has polled the silos again, its totals equal the sums of the silos' own figures.
        // All of them: a poll taken while the last reply was still generating already counts its conversation, not its tokens.
        var api = await fixture.ScrapeUntilAsync(cluster.ApiUrl, families =>
            families.Sum("qwen_cluster_silo_active_conversations") == SiloSum("qwen_silo_active_conversations")
            && families.Sum("qwen_cluster_inference_kv_budget") == SiloSum("qwen_inference_kv_budget")
            && families.Sum("qwen_cluster_inference_generated_tokens_total") >= SiloSum("qwen_inference_generated_tokens_total"));

        api.Sum("qwen_cluster_silo_up", ("silo", "s1")).Should().Be(1);
        api.Sum("qwen_cluster_silo_up", ("silo", "s2")).Should().Be(1);
        api.Sum("qwen_cluster_silos", ("status", "active")).Should().Be(2);
        api.Sum("qwen_cluster_silo_active_conversations").Should().Be(SiloSum("qwen_silo_active_conversations"));
        api.Sum("qwen_cluster_silo_active_conversations").Should().BeGreaterThanOrEqualTo(6);
        api.Sum("qwen_cluster_inference_kv_budget").Should().Be(SiloSum("qwen_inference_kv_budget"));
        api.Sum("qwen_cluster_inference_generated_tokens_total").Should().BeGreaterThanOrEqualTo(SiloSum("qwen_inference_generated_tokens_total"));
        api.Sum("qwen_cluster_process_resident_memory_bytes").Should().BeGreaterThan(0);
        api.Should().NotContain(f => f.Name == "qwen_inference_queue_depth", "a clustered Api runs no worker; each silo serves its own series");
    }

    [Fact]
    public async Task Each_silo_serves_its_own_metrics_labelled_with_its_id_next_to_orleans_and_dotnet_meters()
    {
        foreach (var (id, silo) in fixture.Cluster.Silos)
        {
            var families = await fixture.ScrapeAsync(silo.Url);
            var ours = families.Where(f => f.Name.StartsWith("qwen_", StringComparison.Ordinal)).SelectMany(f => f.Samples).ToArray();
            ours.Should().NotBeEmpty();
            ours.Should().OnlyContain(s => s.Label("silo") == id);
            families.Should().Contain(f => f.Name == "qwen_inference_kv_reserved" && f.Type == MetricType.Gauge);
            families.Should().Contain(f => f.Name == "qwen_inference_refused_total" && f.Type == MetricType.Counter);
            families.Should().Contain(f => f.Name == "qwen_inference_degraded" && f.Type == MetricType.Gauge);
            families.Should().Contain(f => f.Name == "qwen_inference_step_duration_seconds" && f.Type == MetricType.Histogram);
            families.Should().Contain(f => f.Name == "orleans_catalog_activations", "Orleans' own meter");
            families.Should().Contain(f => f.Name.StartsWith("dotnet_gc_", StringComparison.Ordinal), ".NET's runtime meter");
            families.Should().NotContain(f => f.Name.StartsWith("qwen_api_", StringComparison.Ordinal));
        }
    }
}
