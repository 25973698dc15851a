using System.Text.Json;
using FluentAssertions;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.Observability.Prometheus;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.Observability;

/// <summary>The embedded default (one silo inside the Api process): the same metrics, status and dashboard.</summary>
public sealed class EmbeddedMetricsTests : IAsyncLifetime
{
    private readonly string _model = Directory.CreateTempSubdirectory("qwen-embedded-model-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private ServiceProcess _api = null!;

    public async Task InitializeAsync()
    {
        ModelDirectoryBuilder.Build(_model, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        _api = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
        [
            $"--Model:Path={_model}",
            "--Model:Threads=1",
            "--Silo:SiloId=solo",
            "--Conversations:MaxNewTokens=6",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await _api.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task The_embedded_silo_is_measured_labelled_and_shown()
    {
        (await _http.PostAsync(_api.Url + "/v1/conversations/embedded-user/messages", Json("{\"content\":\"hi\"}"))).EnsureSuccessStatusCode();
        (await _http.PostAsync(_api.Url + "/v1/sentiment", Json("{\"text\":1}"))).StatusCode.Should().Be(System.Net.HttpStatusCode.BadRequest);
        (await _http.GetAsync(_api.Url + "/v1/no-such-route")).StatusCode.Should().Be(System.Net.HttpStatusCode.NotFound);

        var families = PrometheusTextParser.Parse(await _http.GetStringAsync(_api.Url + "/metrics"));

        families.Sum("qwen_api_requests_total", ("task", "chat"), ("status", "200")).Should().Be(1);
        families.Sum("qwen_api_requests_total", ("task", "sentiment"), ("status", "400")).Should().Be(1);
        families.Sum("qwen_api_requests_total", ("task", "unmatched"), ("status", "404")).Should().Be(1);
        families.Samples("qwen_inference_generated_tokens_total").Should().ContainSingle().Which.Label("silo").Should().Be("solo");
        families.Sum("qwen_inference_generated_tokens_total").Should().BeGreaterThan(0);
        families.Sum("qwen_silo_active_conversations", ("silo", "solo")).Should().Be(1);
        families.Sum("qwen_cluster_silo_active_conversations").Should().Be(1);
        families.Sum("qwen_cluster_silo_up", ("silo", "solo")).Should().Be(1);
        families.Sum("qwen_cluster_process_resident_memory_bytes").Should().BeGreaterThan(0);

        using var status = JsonDocument.Parse(await _http.GetStringAsync(_api.Url + "/v1/cluster/status"));
        var root = status.RootElement;
        root.GetProperty("mode").GetString().Should().Be("embedded");
        var silo = root.GetProperty("silos").EnumerateArray().Should().ContainSingle().Subject;
        silo.GetProperty("id").GetString().Should().Be("solo");
        silo.GetProperty("status").GetString().Should().Be("active");
        silo.GetProperty("active_conversations").GetInt32().Should().Be(1);
        silo.GetProperty("rss_bytes").GetInt64().Should().BeGreaterThan(0);
        var errors = root.GetProperty("recent_errors").EnumerateArray().ToArray();
        errors.Select(e => e.GetProperty("status").GetInt32()).Should().Equal(404, 400);
        errors[1].GetProperty("detail").GetString().Should().Contain("must be a string");
        root.GetProperty("requests").GetProperty("by_task").GetProperty("chat").GetProperty("count").GetInt32().Should().Be(1);

        var page = await _http.GetAsync(_api.Url + "/dashboard");
        page.StatusCode.Should().Be(System.Net.HttpStatusCode.OK, "/dashboard redirects to the page");
        (await page.Content.ReadAsStringAsync()).Should().Contain("vendor/uPlot.iife.min.js");
        (await _http.GetAsync(_api.Url + "/dashboard/vendor/uPlot.iife.min.js")).EnsureSuccessStatusCode();
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _api.DisposeAsync();
        Directory.Delete(_model, recursive: true);
    }
}
