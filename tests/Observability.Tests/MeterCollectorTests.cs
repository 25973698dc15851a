using System.Diagnostics.Metrics;
using FluentAssertions;
using Xunit;
using Qwen.Observability.Metrics;
using Qwen.Observability.Prometheus;

namespace Qwen.Observability.Tests;

public sealed class MeterCollectorTests : IDisposable
{
    // A meter name of this test's own, so instruments of other tests are not collected.
    private readonly string _meterName = "Qwen.Test." + Guid.NewGuid().ToString("N");
    private readonly Meter _meter;
    private readonly MeterCollector _collector;

    public MeterCollectorTests()
    {
        _collector = new MeterCollector([_meterName]);
        _meter = new Meter(new MeterOptions(_meterName) { Tags = [new("silo", "s1")] });
    }

    private MetricFamily Family(string name) => _collector.Collect().Single(f => f.Name == name);

    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);

    [Fact]
    public void Counters_sum_per_label_set_carry_the_meter_tags_and_end_in_total()
    {
        var requests = _meter.CreateCounter<long>("qwen.test.requests", "{request}", "Requests by task");
        requests.Add(1, Tag("task", "sentiment"), Tag("status", 200));
        requests.Add(2, Tag("status", 200), Tag("task", "sentiment")); // tag order does not matter
        requests.Add(1, Tag("task", "chat"), Tag("status", 429));

        var family = Family("qwen_test_requests_total");

        family.Type.Should().Be(MetricType.Counter);
        family.Help.Should().Be("Requests by task");
        family.Samples.Should().HaveCount(2);
        var sentiment = family.Samples.Single(s => s.Label("task") == "sentiment");
        sentiment.Value.Should().Be(3);
        sentiment.Labels.Select(l => l.Key).Should().Equal("silo", "status", "task");
        sentiment.Label("silo").Should().Be("s1");
        family.Samples.Single(s => s.Label("task") == "chat").Label("status").Should().Be("429");
    }

    [Fact]
    public void Up_down_counters_and_gauges_are_gauges()
    {
        var inFlight = _meter.CreateUpDownCounter<int>("qwen.test.in_flight");
        inFlight.Add(3);
        inFlight.Add(-1);
        var last = _meter.CreateGauge<double>("qwen.test.temperature", "Cel");
        last.Record(20);
        last.Record(21.5);

        Family("qwen_test_in_flight").Should().Match<MetricFamily>(f => f.Type == MetricType.Gauge && f.Samples.Single().Value == 2);
        Family("qwen_test_temperature_cel").Samples.Single().Value.Should().Be(21.5);
    }

    [Fact]
    public void Histograms_have_cumulative_buckets_up_to_inf_with_sum_and_count()
    {
        var latency = _meter.CreateHistogram("qwen.test.latency", "s", "Latency",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 10] });
        foreach (double v in new[] { 0.05, 0.1, 0.5, 2, 20 }) latency.Record(v, Tag("task", "chat"));

        var family = Family("qwen_test_latency_seconds");

        family.Type.Should().Be(MetricType.Histogram);
        family.Samples.Where(s => s.Name == "qwen_test_latency_seconds_bucket").Select(s => (s.Label("le"), s.Value))
            .Should().Equal(("0.1", 2), ("1", 3), ("10", 4), ("+Inf", 5));
        family.Samples.Single(s => s.Name == "qwen_test_latency_seconds_sum").Value.Should().BeApproximately(22.65, 1e-9);
        family.Samples.Single(s => s.Name == "qwen_test_latency_seconds_count").Value.Should().Be(5);
        family.Samples.Where(s => s.Name.EndsWith("_bucket")).Should().OnlyContain(s => s.Labels.Last().Key == "le");

        string text = PrometheusText.Write(_collector.Collect());
        ExpositionRules.Violations(text).Should().BeEmpty();
        PrometheusTextParser.Parse(text).Should().ContainSingle(f => f.Name == "qwen_test_latency_seconds");
    }

    [Fact]
    public void Observable_instruments_are_read_at_each_collection_and_series_that_stop_reporting_disappear()
    {
        int queue = 4;
        bool reportSecond = true;
        _meter.CreateObservableGauge("qwen.test.queue", () => reportSecond
            ? new[] { new Measurement<int>(queue, Tag("lane", "a")), new Measurement<int>(1, Tag("lane", "b")) }
            : [new Measurement<int>(queue, Tag("lane", "a"))]);
        long tokens = 10;
        _meter.CreateObservableCounter("qwen.test.tokens", () => tokens, "{token}");

        Family("qwen_test_queue").Samples.Should().HaveCount(2);
        Family("qwen_test_tokens_total").Samples.Single().Value.Should().Be(10);

        queue = 7;
        tokens = 25;
        reportSecond = false;
        Family("qwen_test_queue").Samples.Should().ContainSingle().Which.Value.Should().Be(7);
        Family("qwen_test_tokens_total").Samples.Single().Value.Should().Be(25, "an observable counter reports its cumulative value");
    }

    [Fact]
    public void Instruments_of_a_disposed_meter_are_no_longer_exposed()
    {
        var other = new Meter(_meterName);
        other.CreateCounter<int>("qwen.test.gone").Add(1);
        _collector.Collect().Should().Contain(f => f.Name == "qwen_test_gone_total");
        other.Dispose();
        _collector.Collect().Should().NotContain(f => f.Name == "qwen_test_gone_total");
    }

    [Fact]
    public void Names_and_labels_are_made_valid_for_prometheus()
    {
        _meter.CreateCounter<int>("qwen.test-odd/name", "By").Add(1, Tag("gc.heap.generation", "gen0"), Tag("__reserved", "x"));
        var family = Family("qwen_test_odd_name_bytes_total");
        family.Samples.Single().Labels.Select(l => l.Key).Should().Equal("silo", "gc_heap_generation", "tag__reserved");
        ExpositionRules.Violations(PrometheusText.Write([family])).Should().BeEmpty();
    }

    public void Dispose()
    {
        _meter.Dispose();
        _collector.Dispose();
    }
}
