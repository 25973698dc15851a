using System.Text;

namespace Qwen.Observability.Metrics;

/// <summary>
/// Names as Prometheus wants them: instrument names with dots become underscores, the unit
/// becomes a suffix (<c>s</c> → <c>_seconds</c>, <c>By</c> → <c>_bytes</c>; annotations such as
/// <c>{token}</c> add nothing) and counters end in <c>_total</c>.
/// </summary>
public static class PrometheusNames
{
    public static string Family(string instrumentName, string? unit, MetricType type)
    {
        string name = Sanitize(instrumentName, allowColon: true);
        string suffix = UnitSuffix(unit);
        if (suffix.Length > 0 && !name.EndsWith("_" + suffix, StringComparison.Ordinal)) name += "_" + suffix;
        if (type == MetricType.Counter && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
        return name;
    }

    public static string Label(string tagName)
    {
        string name = Sanitize(tagName, allowColon: false);
        // Names starting with "__" are reserved for Prometheus itself.
        return name.StartsWith("__", StringComparison.Ordinal) ? "tag" + name : name;
    }

    public static bool IsValidMetricName(string name) =>
        name.Length > 0 && IsNameStart(name[0], allowColon: true) && name.All(c => IsNameChar(c, allowColon: true));

    public static bool IsValidLabelName(string name) =>
        name.Length > 0 && IsNameStart(name[0], allowColon: false) && name.All(c => IsNameChar(c, allowColon: false));

    private static string UnitSuffix(string? unit) => unit switch
    {
        null or "" or "1" => "",
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ when unit.StartsWith('{') => "",
        _ => Sanitize(unit, allowColon: false).ToLowerInvariant(),
    };

    private static string Sanitize(string text, bool allowColon)
    {
        var name = new StringBuilder(text.Length + 1);
        foreach (char c in text) name.Append(IsNameChar(c, allowColon) ? c : '_');
        if (name.Length == 0 || !IsNameStart(name[0], allowColon)) name.Insert(0, '_');
        return name.ToString();
    }

    private static bool IsNameStart(char c, bool allowColon) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (allowColon && c == ':');

    private static bool IsNameChar(char c, bool allowColon) => IsNameStart(c, allowColon) || c is >= '0' and <= '9';
}
