namespace Qwen.Deploy.Tests;

/// <summary>Reads a systemd EnvironmentFile of NAME=value lines (comments and blank lines skipped).</summary>
internal static class EnvironmentFile
{
    public static Dictionary<string, string> Read(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in File.ReadAllLines(path))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) throw new FormatException($"{path}: '{raw}' is not NAME=value");
            values[line[..equals]] = line[(equals + 1)..];
        }

        return values;
    }
}
