using System.Globalization;

namespace Qwen.Cluster.Transport;

/// <summary>
/// A request's deadline as it crosses HTTP between processes: the time left, in whole
/// milliseconds (as gRPC's grpc-timeout does), so the processes' clocks need not agree.
/// </summary>
public static class DeadlineHeader
{
    public const string Name = "X-Qwen-Timeout-Ms";

    /// <summary>The header value for <paramref name="deadline"/>: at least 1 ms, so an expired deadline still expires on arrival.</summary>
    public static string Format(DateTimeOffset deadline, DateTimeOffset now) =>
        Math.Max(1L, (long)Math.Ceiling((deadline - now).TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>The deadline a header value gives, counted from <paramref name="now"/>; null when absent or not a positive integer.</summary>
    public static DateTimeOffset? Parse(string? value, DateTimeOffset now) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long ms) && ms > 0
            ? now + TimeSpan.FromMilliseconds(Math.Min(ms, (long)TimeSpan.FromDays(1).TotalMilliseconds))
            : null;
}
