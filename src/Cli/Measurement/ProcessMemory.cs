using System.Globalization;

namespace Qwen.Cli.Measurement;

/// <summary>This process's resident memory from /proc/self/status, and a resettable peak (Linux).</summary>
internal static class ProcessMemory
{
    public static double CurrentRssMegabytes() => StatusMegabytes("VmRSS:");

    /// <summary>Peak resident set size since start or since the last <see cref="ResetPeak"/>.</summary>
    public static double PeakRssMegabytes() => StatusMegabytes("VmHWM:");

    /// <summary>Starts a new peak (VmHWM) from the current RSS; false where the kernel does not allow it.</summary>
    public static bool ResetPeak()
    {
        try
        {
            // "5" resets the peak RSS counter (see proc(5), /proc/pid/clear_refs).
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static double StatusMegabytes(string field)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux: no figure.
        }
        return double.NaN;
    }
}
