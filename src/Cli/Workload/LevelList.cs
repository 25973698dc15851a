using System.Globalization;

namespace Qwen.Cli.Workload;

/// <summary>Concurrency levels given as "1,2,8,16".</summary>
internal static class LevelList
{
    public const int MaxLevel = 1024;

    /// <exception cref="FormatException">Not a list of integers in [1, 1024].</exception>
    public static int[] Parse(string text, string optionName)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new FormatException($"{optionName}: give at least one concurrency level, e.g. 1,2,8");
        var levels = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out levels[i]) || levels[i] < 1 || levels[i] > MaxLevel)
                throw new FormatException($"{optionName}: '{parts[i]}' is not a concurrency level in [1, {MaxLevel}]");
        }
        return levels;
    }
}
