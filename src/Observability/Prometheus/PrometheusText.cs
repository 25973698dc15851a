using System.Globalization;
using System.Text;
using Qwen.Observability.Metrics;

namespace Qwen.Observability.Prometheus;

/// <summary>
/// Writes metric families in the Prometheus text exposition format, version 0.0.4: a HELP and
/// a TYPE line per family, then one line per sample, with label values and help text escaped.
/// </summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Write(IEnumerable<MetricFamily> families)
    {
        var text = new StringBuilder();
        foreach (var family in families) Write(text, family);
        return text.ToString();
    }

    public static void Write(StringBuilder text, MetricFamily family)
    {
        text.Append("# HELP ").Append(family.Name).Append(' ').Append(EscapeHelp(family.Help)).Append('\n');
        text.Append("# TYPE ").Append(family.Name).Append(' ').Append(TypeName(family.Type)).Append('\n');
        foreach (var sample in family.Samples)
        {
            text.Append(sample.Name);
            if (sample.Labels.Count > 0)
            {
                text.Append('{');
                for (int i = 0; i < sample.Labels.Count; i++)
                {
                    if (i > 0) text.Append(',');
                    text.Append(sample.Labels[i].Key).Append("=\"").Append(EscapeLabelValue(sample.Labels[i].Value)).Append('"');
                }
                text.Append('}');
            }
            text.Append(' ').Append(FormatValue(sample.Value)).Append('\n');
        }
    }

    public static string TypeName(MetricType type) => type switch
    {
        MetricType.Counter => "counter",
        MetricType.Gauge => "gauge",
        MetricType.Histogram => "histogram",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static string FormatValue(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : value.ToString("R", CultureInfo.InvariantCulture);

    public static string EscapeLabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string EscapeHelp(string help) =>
        help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
