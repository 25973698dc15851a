using System.Globalization;

namespace Qwen.Cli.Measurement;

/// <summary>Durations written as "500ms", "30s", "10m", "1h" or plain seconds.</summary>
internal static class DurationText
{
    /// <exception cref="FormatException">Not a positive duration in a known unit.</exception>
    public static TimeSpan Parse(string text, string optionName)
    {
        string t = text.Trim().ToLowerInvariant();
        (string number, double scale) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.Ordinal) => (t[..^2], 0.001),
            _ when t.EndsWith('s') => (t[..^1], 1.0),
            _ when t.EndsWith('m') => (t[..^1], 60.0),
            _ when t.EndsWith('h') => (t[..^1], 3600.0),
            _ => (t, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value <= 0
            || value * scale > TimeSpan.FromDays(7).TotalSeconds)
        {
            throw new FormatException($"{optionName}: '{text}' is not a duration such as 30s, 10m or 1h");
        }
        return TimeSpan.FromSeconds(value * scale);
    }

    public static string Format(TimeSpan duration) => duration.TotalSeconds switch
    {
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0}ms"),
        < 120 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.#}s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMinutes:0.#}m"),
    };
}
