using FluentAssertions;
using Xunit;
using Qwen.Observability.Prometheus;

namespace Qwen.Observability.Tests;

public sealed class PrometheusTextTests
{
    [Fact]
    public void Escaped_label_values_and_help_text_are_read_back_unescaped()
    {
        const string text = "# HELP qwen_test_value help with \\\\ and\\na newline\n# TYPE qwen_test_value gauge\n" +
                            "qwen_test_value{path=\"back\\\\slash \\\"quoted\\\"\\nnew line, {braces}, = and 中文\"} 1.5\n";

        ExpositionRules.Violations(text).Should().BeEmpty();
        var read = PrometheusTextParser.Parse(text).Single();
        read.Help.Should().Be("help with \\ and\na newline");
        read.Samples.Single().Label("path").Should().Be("back\\slash \"quoted\"\nnew line, {braces}, = and 中文");
        read.Samples.Single().Value.Should().Be(1.5);
    }

    [Theory]
    [InlineData("NaN", double.NaN)]
    [InlineData("+Inf", double.PositiveInfinity)]
    [InlineData("-Inf", double.NegativeInfinity)]
    [InlineData("0.1", 0.1)]
    [InlineData("-2.5E-07", -2.5e-7)]
    [InlineData("12345678901234", 12345678901234.0)]
    public void Special_and_ordinary_values_are_read(string written, double expected)
    {
        string text = $"qwen_v{{k=\"x\"}} {written}\n";
        ExpositionRules.Violations(text).Should().BeEmpty();
        double read = PrometheusTextParser.Parse(text).Single().Samples.Single().Value;
        if (double.IsNaN(expected)) read.Should().Be(double.NaN);
        else read.Should().Be(expected);
    }

    [Theory]
    [InlineData("9bad_name 1\n", "invalid metric name")]
    [InlineData("ok{label=unquoted} 1\n", "not quoted")]
    [InlineData("ok{label=\"bad \\t escape\"} 1\n", "invalid escape")]
    [InlineData("ok{1label=\"x\"} 1\n", "invalid label name")]
    [InlineData("ok{a=\"x\",a=\"y\"} 1\n", "appears twice")]
    [InlineData("ok{a=\"x\"} 1\nok{a=\"x\"} 2\n", "appears twice")]
    [InlineData("ok 1\n# TYPE ok gauge\n", "after its samples")]
    [InlineData("# TYPE ok gauge\n# TYPE ok gauge\nok 1\n", "second TYPE")]
    [InlineData("a 1\nb 1\na{x=\"1\"} 1\n", "not contiguous")]
    [InlineData("ok one\n", "invalid value")]
    [InlineData("ok{a=\"x\" 1\n", "expected ','")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "no le=\"+Inf\"")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "not cumulative")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "differs from _count")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n", "lacks")]
    public void Malformed_text_is_refused_with_the_rule_it_breaks(string text, string rule)
    {
        var parse = () => PrometheusTextParser.Parse(text);
        parse.Should().Throw<FormatException>().Which.Message.Should().Contain(rule);
    }

    [Fact]
    public void Well_formed_text_with_comments_timestamps_and_untyped_samples_parses()
    {
        const string text = "# a comment\n# HELP c_total Things.\n# TYPE c_total counter\nc_total{k=\"v\"} 3 1700000000000\n\nplain 4\n" +
                            "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.7\nh_count 2\n";
        var families = PrometheusTextParser.Parse(text);
        families.Select(f => (f.Name, f.Type)).Should().Equal(("c_total", MetricType.Counter), ("plain", MetricType.Gauge), ("h", MetricType.Histogram));
        families[2].Samples.Should().HaveCount(4);
        ExpositionRules.Violations(text).Should().BeEmpty();
    }
}
