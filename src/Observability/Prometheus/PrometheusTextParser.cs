using System.Globalization;
using System.Text;

namespace Qwen.Observability.Prometheus;

/// <summary>
/// Reads the Prometheus text exposition format (0.0.4) strictly: every rule a scraper relies on
/// is checked, and a violation fails with the line number. The one reader of /metrics pages:
/// <c>qwen load</c> reads the server's memory with it, and tests check what the exporter writes.
/// </summary>
/// <remarks>
/// Rules: metric and label names match [a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*;
/// label values are quoted with \\, \" and \n as the only escapes; a family's TYPE comes before
/// its samples and at most once; a family's samples are contiguous; no series repeats; a
/// histogram's buckets carry "le", are cumulative, end with le="+Inf", and that bucket equals
/// its _count. Timestamps are accepted and ignored.
/// </remarks>
public static class PrometheusTextParser
{
    public static IReadOnlyList<MetricFamily> Parse(string text)
    {
        var families = new List<Builder>();
        var byName = new Dictionary<string, Builder>(StringComparer.Ordinal);
        Builder? current = null;
        var closed = new HashSet<string>(StringComparer.Ordinal);
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n];
            int lineNumber = n + 1;
            if (line.Length == 0) continue; // blank lines are allowed anywhere
            if (line.StartsWith('#'))
            {
                string[] parts = line.Split(' ', 4, StringSplitOptions.None);
                if (parts.Length >= 3 && parts[0] == "#" && parts[1] is "HELP" or "TYPE")
                {
                    string name = parts[2];
                    if (!IsValidMetricName(name)) throw Error(lineNumber, $"invalid metric name '{name}'");
                    var family = Enter(name, lineNumber);
                    if (parts[1] == "TYPE")
                    {
                        if (family.Type is not null) throw Error(lineNumber, $"a second TYPE line for '{name}'");
                        if (family.Samples.Count > 0) throw Error(lineNumber, $"the TYPE line for '{name}' comes after its samples");
                        family.Type = parts.Length == 4 ? ParseType(parts[3], lineNumber) : throw Error(lineNumber, "TYPE without a type");
                    }
                    else
                    {
                        if (family.Help is not null) throw Error(lineNumber, $"a second HELP line for '{name}'");
                        family.Help = parts.Length == 4 ? UnescapeHelp(parts[3], lineNumber) : "";
                    }
                }
                continue;
            }
            var sample = ParseSample(line, lineNumber);
            var owner = FamilyOf(sample.Name);
            var target = Enter(owner, lineNumber);
            if (!target.Series.Add(sample.Name + "|" + string.Join(",", sample.Labels.Select(l => l.Key + "=" + l.Value))))
            {
                string labels = string.Join(",", sample.Labels.Select(l => $"{l.Key}=\"{l.Value}\""));
                throw Error(lineNumber, $"the series {sample.Name}{{{labels}}} appears twice");
            }
            target.Samples.Add(sample);
        }
        foreach (var family in families) CheckHistogram(family);
        return families.Select(f => new MetricFamily(f.Name, f.Type ?? MetricType.Gauge, f.Help ?? "", f.Samples)).ToArray();

        Builder Enter(string name, int lineNumber)
        {
            if (current?.Name == name) return current;
            if (closed.Contains(name) || byName.ContainsKey(name))
                throw Error(lineNumber, $"the samples of '{name}' are not contiguous");
            if (current is not null) closed.Add(current.Name);
            current = new Builder(name);
            byName.Add(name, current);
            families.Add(current);
            return current;
        }

        // A histogram's _bucket, _sum and _count lines belong to the family typed just before them.
        string FamilyOf(string sampleName)
        {
            if (current is { Type: MetricType.Histogram } h &&
                (sampleName == h.Name + "_bucket" || sampleName == h.Name + "_sum" || sampleName == h.Name + "_count"))
                return h.Name;
            return sampleName;
        }
    }

    private static MetricType ParseType(string type, int line) => type switch
    {
        "counter" => MetricType.Counter,
        "gauge" or "untyped" => MetricType.Gauge,
        "histogram" => MetricType.Histogram,
        _ => throw Error(line, $"unsupported metric type '{type}'"),
    };

    private static MetricSample ParseSample(string line, int lineNumber)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        string name = line[..i];
        if (!IsValidMetricName(name)) throw Error(lineNumber, $"invalid metric name '{name}'");
        var labels = new List<KeyValuePair<string, string>>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i >= line.Length) throw Error(lineNumber, "unterminated label set");
                if (line[i] == '}')
                {
                    i++;
                    break;
                }
                int start = i;
                while (i < line.Length && line[i] != '=') i++;
                string label = line[start..i];
                if (!IsValidLabelName(label)) throw Error(lineNumber, $"invalid label name '{label}'");
                if (labels.Any(l => l.Key == label)) throw Error(lineNumber, $"label '{label}' appears twice");
                if (i + 1 >= line.Length || line[i + 1] != '"') throw Error(lineNumber, $"the value of label '{label}' is not quoted");
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length) throw Error(lineNumber, $"unterminated value of label '{label}'");
                    char c = line[i++];
                    if (c == '"') break;
                    if (c != '\\')
                    {
                        value.Append(c);
                        continue;
                    }
                    if (i >= line.Length) throw Error(lineNumber, "a backslash at the end of the line");
                    char e = line[i++];
                    value.Append(e switch
                    {
                        '\\' => '\\',
                        '"' => '"',
                        'n' => '\n',
                        _ => throw Error(lineNumber, $"invalid escape '\\{e}' in the value of label '{label}'"),
                    });
                }
                labels.Add(new(label, value.ToString()));
                if (i < line.Length && line[i] == ',') i++;
                else if (i >= line.Length || line[i] != '}') throw Error(lineNumber, "expected ',' or '}' after a label");
            }
        }
        if (i >= line.Length || line[i] != ' ') throw Error(lineNumber, "expected a space before the value");
        string[] rest = line[(i + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (rest.Length is 0 or > 2) throw Error(lineNumber, "expected a value and an optional timestamp");
        double number = ParseValue(rest[0], lineNumber);
        if (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            throw Error(lineNumber, $"invalid timestamp '{rest[1]}'");
        return new MetricSample(name, labels, number);
    }

    public static double ParseValue(string text, int lineNumber = 0) => text switch
    {
        "NaN" => double.NaN,
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v
            : throw Error(lineNumber, $"invalid value '{text}'"),
    };

    private static void CheckHistogram(Builder family)
    {
        if (family.Type != MetricType.Histogram) return;
        foreach (var series in family.Samples.GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").Select(l => l.Key + "=" + l.Value))))
        {
            var buckets = series.Where(s => s.Name == family.Name + "_bucket").ToArray();
            var count = series.FirstOrDefault(s => s.Name == family.Name + "_count");
            if (series.Any(s => s.Name != family.Name + "_bucket" && s.Name != family.Name + "_sum" && s.Name != family.Name + "_count"))
                throw new FormatException($"histogram '{family.Name}' has a sample that is not _bucket, _sum or _count");
            if (buckets.Length == 0 || count is null || series.All(s => s.Name != family.Name + "_sum"))
                throw new FormatException($"histogram '{family.Name}' {{{series.Key}}} lacks buckets, _sum or _count");
            double previousBound = double.NegativeInfinity, previousCount = 0;
            foreach (var bucket in buckets)
            {
                string le = bucket.Label("le") ?? throw new FormatException($"a bucket of '{family.Name}' has no 'le' label");
                double bound = ParseValue(le);
                if (bound <= previousBound) throw new FormatException($"the buckets of '{family.Name}' are not in increasing order of 'le'");
                if (bucket.Value < previousCount) throw new FormatException($"the buckets of '{family.Name}' are not cumulative");
                previousBound = bound;
                previousCount = bucket.Value;
            }
            if (!double.IsPositiveInfinity(previousBound)) throw new FormatException($"histogram '{family.Name}' has no le=\"+Inf\" bucket");
            if (previousCount != count.Value)
                throw new FormatException($"histogram '{family.Name}': the +Inf bucket ({previousCount}) differs from _count ({count.Value})");
        }
    }

    private static string UnescapeHelp(string help, int line)
    {
        var text = new StringBuilder(help.Length);
        for (int i = 0; i < help.Length; i++)
        {
            if (help[i] != '\\')
            {
                text.Append(help[i]);
                continue;
            }
            if (++i >= help.Length) throw Error(line, "a backslash at the end of the help text");
            text.Append(help[i] switch
            {
                '\\' => '\\',
                'n' => '\n',
                _ => throw Error(line, $"invalid escape '\\{help[i]}' in help text"),
            });
        }
        return text.ToString();
    }

    public static bool IsValidMetricName(string name) =>
        name.Length > 0 && IsNameStart(name[0], allowColon: true) && name.All(c => IsNameChar(c, allowColon: true));

    public static bool IsValidLabelName(string name) =>
        name.Length > 0 && IsNameStart(name[0], allowColon: false) && name.All(c => IsNameChar(c, allowColon: false));

    private static bool IsNameStart(char c, bool allowColon) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (allowColon && c == ':');

    private static bool IsNameChar(char c, bool allowColon) => IsNameStart(c, allowColon) || c is >= '0' and <= '9';

    private static FormatException Error(int line, string problem) => new($"line {line}: {problem}");

    private sealed class Builder(string name)
    {
        public string Name { get; } = name;
        public MetricType? Type { get; set; }
        public string? Help { get; set; }
        public List<MetricSample> Samples { get; } = [];
        public HashSet<string> Series { get; } = new(StringComparer.Ordinal);
    }
}
