using System.Text.RegularExpressions;

namespace Qwen.Observability.Tests;

/// <summary>
/// The text exposition format's line grammar (version 0.0.4), written from the format's
/// description independently of the parser under test, so the two check each other.
/// </summary>
public static partial class ExpositionRules
{
    private const string MetricName = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    private const string LabelName = "[a-zA-Z_][a-zA-Z0-9_]*";
    private const string LabelValue = "\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
    private const string Value = "(?:[+-]?(?:[0-9]*\\.?[0-9]+(?:[eE][+-]?[0-9]+)?|Inf)|NaN)";

    [GeneratedRegex($"^{MetricName}(?:\\{{(?:{LabelName}={LabelValue}(?:,{LabelName}={LabelValue})*,?)?\\}})? {Value}(?: -?[0-9]+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex($"^# HELP {MetricName} (?:[^\\\\\\n]|\\\\[\\\\n])*$")]
    private static partial Regex HelpLine();

    [GeneratedRegex($"^# TYPE {MetricName} (?:counter|gauge|histogram|summary|untyped)$")]
    private static partial Regex TypeLine();

    /// <summary>The lines that break the grammar (empty when the text is well formed); the text must end with a newline.</summary>
    public static IReadOnlyList<string> Violations(string text)
    {
        var bad = new List<string>();
        if (text.Length > 0 && !text.EndsWith('\n')) bad.Add("(the text does not end with a newline)");
        foreach (string line in text.Split('\n').SkipLast(1))
        {
            bool ok = line.StartsWith("# HELP ", StringComparison.Ordinal) ? HelpLine().IsMatch(line)
                : line.StartsWith("# TYPE ", StringComparison.Ordinal) ? TypeLine().IsMatch(line)
                : line.Length == 0 || line.StartsWith('#') || SampleLine().IsMatch(line); // blank lines and other comments are allowed
            if (!ok) bad.Add(line);
        }
        return bad;
    }
}
