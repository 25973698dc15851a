using FluentAssertions;
using Qwen.Cli.Load;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary>The server RSS that <c>qwen load</c> shows, read from Prometheus text.</summary>
public sealed class PrometheusTextTests
{
    [Fact]
    public void The_standard_process_metric_wins()
    {
        const string text = """
            # HELP http_requests_total Requests.
            # TYPE http_requests_total counter
            http_requests_total{task="sentiment",status="200"} 12
            # HELP qwen_silo_rss_bytes Silo RSS.
            qwen_silo_rss_bytes{silo="s1"} 1e9
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes 524288000 1700000000000
            """;
        var rss = PrometheusText.Rss(text);
        rss.Should().NotBeNull();
        rss!.Value.Metric.Should().Be("process_resident_memory_bytes");
        rss.Value.Megabytes.Should().BeApproximately(500, 1e-9);
    }

    [Fact]
    public void Another_rss_gauge_is_used_and_its_per_silo_series_add_up()
    {
        const string text = """
            qwen_latency_ms_bucket{le="100"} 3
            qwen_silo_rss_bytes{silo="s1"} 104857600
            qwen_silo_rss_bytes{silo="s2",note="a } b"} 209715200
            """;
        var rss = PrometheusText.Rss(text);
        rss!.Value.Metric.Should().Be("qwen_silo_rss_bytes");
        rss.Value.Megabytes.Should().BeApproximately(300, 1e-9);
    }

    [Theory]
    [InlineData("qwen_process_rss_megabytes 812.5", 812.5)]
    [InlineData("process_rss_kilobytes 2048", 2)]
    public void The_unit_comes_from_the_name(string text, double megabytes) =>
        PrometheusText.Rss(text)!.Value.Megabytes.Should().BeApproximately(megabytes, 1e-9);

    [Theory]
    [InlineData("")]
    [InlineData("<html>not found</html>")]
    [InlineData("dotnet_gc_heap_size_bytes 1234\nqwen_rss_histogram_bucket{le=\"1\"} 4")]
    public void No_rss_metric_gives_nothing(string text) => PrometheusText.Rss(text).Should().BeNull();
}
