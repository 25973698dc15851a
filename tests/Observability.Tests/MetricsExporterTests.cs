using System.Diagnostics.Metrics;
using FluentAssertions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qwen.Observability.Hosting;
using Qwen.Observability.Prometheus;
using Xunit;

namespace Qwen.Observability.Tests;

/// <summary>
/// What a Qwen process serves at /metrics (OpenTelemetry's Prometheus exporter over our meter list), read back with
/// the project's one parser and checked against the format's line grammar.
/// </summary>
public sealed class MetricsExporterTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddQwenMetrics();
        builder.Services.AddQwenMetrics(); // the embedded default registers twice; that must not export twice
        _app = builder.Build();
        _app.Services.StartQwenMetrics();
        _app.MapPrometheusMetrics();
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http.BaseAddress = new Uri(address);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Product_orleans_runtime_and_process_meters_are_exported_under_their_documented_names()
    {
        var meters = _app.Services.GetRequiredService<IMeterFactory>();
        var product = meters.Create("Qwen.Test");
        var silo = new KeyValuePair<string, object?>("silo", "s1");
        var requests = product.CreateCounter<long>("qwen.test.requests", "{request}", "Requests");
        var duration = product.CreateHistogram("qwen.test.duration", "s", "Durations",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        product.CreateObservableGauge("qwen.test.queue_depth", () => new Measurement<int>(3, silo), "{request}", "Queue");
        product.CreateObservableGauge("qwen.test.degraded", () => new Measurement<int>(1, silo), "", "Degraded");
        var orleans = meters.Create("Microsoft.Orleans").CreateCounter<long>("orleans-catalog-activation-created");
        requests.Add(2, new("task", "chat"), new("status", 200));
        requests.Add(1, new("task", "chat"), new("status", 499));
        duration.Record(0.5, new KeyValuePair<string, object?>("task", "chat"));
        duration.Record(3, new KeyValuePair<string, object?>("task", "chat"));
        orleans.Add(4);

        string text = await ScrapeAsync();

        ExpositionRules.Violations(text).Should().BeEmpty();
        var families = PrometheusTextParser.Parse(text);
        double Value(string sample, params (string Key, string Value)[] labels) => families.SelectMany(f => f.Samples)
            .Where(s => s.Name == sample && labels.All(l => s.Label(l.Key) == l.Value)).Sum(s => s.Value);
        families.Single(f => f.Name == "qwen_test_requests_total").Type.Should().Be(MetricType.Counter);
        Value("qwen_test_requests_total", ("task", "chat"), ("status", "200")).Should().Be(2);
        Value("qwen_test_requests_total", ("task", "chat"), ("status", "499")).Should().Be(1);
        families.Single(f => f.Name == "qwen_test_duration_seconds").Type.Should().Be(MetricType.Histogram);
        Value("qwen_test_duration_seconds_bucket", ("task", "chat"), ("le", "1")).Should().Be(1);
        Value("qwen_test_duration_seconds_bucket", ("task", "chat"), ("le", "+Inf")).Should().Be(2);
        Value("qwen_test_duration_seconds_count", ("task", "chat")).Should().Be(2);
        Value("qwen_test_duration_seconds_sum", ("task", "chat")).Should().Be(3.5);
        Value("qwen_test_queue_depth", ("silo", "s1")).Should().Be(3);
        Value("qwen_test_degraded", ("silo", "s1")).Should().Be(1);
        Value("orleans_catalog_activation_created_total").Should().Be(4);
        Value("process_resident_memory_bytes").Should().BeGreaterThan(0);
        families.Should().Contain(f => f.Name == "process_cpu_seconds_total" && f.Type == MetricType.Counter);
        families.Should().Contain(f => f.Name.StartsWith("dotnet_gc_", StringComparison.Ordinal), "the System.Runtime meter is exported");
        families.Select(f => f.Name).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Observable_gauges_report_the_value_at_scrape_time()
    {
        int depth = 1;
        _app.Services.GetRequiredService<IMeterFactory>().Create("Qwen.Live").CreateObservableGauge("qwen.live.depth", () => depth);
        double Read(string text) => PrometheusTextParser.Parse(text).SelectMany(f => f.Samples).Single(s => s.Name == "qwen_live_depth").Value;

        Read(await ScrapeAsync()).Should().Be(1);
        depth = 7;
        Read(await ScrapeAsync(fresh: true)).Should().Be(7);
    }

    // The exporter caches a scrape's answer briefly (ScrapeResponseCacheDurationMilliseconds); a changed query string is not a new scrape,
    // so a test that needs a new reading asks until it gets one.
    private async Task<string> ScrapeAsync(bool fresh = false)
    {
        string first = await _http.GetStringAsync("/metrics");
        if (!fresh) return first;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            string text = await _http.GetStringAsync("/metrics", timeout.Token);
            if (text != first) return text;
            await Task.Delay(50, timeout.Token);
        }
    }
}
