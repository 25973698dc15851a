namespace Qwen.Cluster.Membership;

/// <summary>Argument checks both membership tables share, so they reject the same input.</summary>
internal static class MembershipArguments
{
    public static void ValidateSiloId(string siloId)
    {
        ArgumentNullException.ThrowIfNull(siloId);
        if (string.IsNullOrWhiteSpace(siloId) || siloId.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("a silo id must be non-blank text without NUL characters", nameof(siloId));
        }
    }

    public static void Validate(SiloRecord silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ValidateSiloId(silo.SiloId);
        if (string.IsNullOrWhiteSpace(silo.Endpoint) || silo.Endpoint.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"silo '{silo.SiloId}' has no usable endpoint", nameof(silo));
        }

        Validate(silo.Status);
        ArgumentNullException.ThrowIfNull(silo.Load, nameof(silo));
    }

    public static void Validate(SiloStatus status)
    {
        if (!Enum.IsDefined(status))
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "unknown silo status");
        }
    }

    public static void Validate(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the heartbeat timeout must be positive");
        }
    }
}
