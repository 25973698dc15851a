namespace Qwen.Cluster.Membership;

/// <summary>
/// The cluster's membership table: every silo registers itself, heartbeats with its load
/// figures, and is declared dead by any member that sees its heartbeat go stale.
/// </summary>
public interface IMembershipTable
{
    /// <summary>Inserts or replaces this silo's row (status <see cref="SiloStatus.Joining"/> or later).</summary>
    Task RegisterAsync(SiloRecord silo, CancellationToken cancellationToken);

    /// <summary>Refreshes the silo's heartbeat time and load; fails if the silo was declared dead.</summary>
    /// <exception cref="SiloDeclaredDeadException">Another member declared this silo dead.</exception>
    Task HeartbeatAsync(string siloId, SiloLoad load, CancellationToken cancellationToken);

    Task SetStatusAsync(string siloId, SiloStatus status, CancellationToken cancellationToken);

    /// <summary>All rows, any status.</summary>
    Task<IReadOnlyList<SiloRecord>> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Marks as dead every joining/active/leaving silo whose last heartbeat is older than
    /// <paramref name="timeout"/> by the table's own clock; returns their ids.
    /// </summary>
    Task<IReadOnlyList<string>> DeclareStaleSilosDeadAsync(TimeSpan timeout, CancellationToken cancellationToken);
}

public enum SiloStatus
{
    Joining,
    Active,
    Leaving,
    Dead,
}

/// <summary>Load figures a silo publishes with each heartbeat.</summary>
public sealed record SiloLoad(int QueueLength, int ActiveRequests, int ActiveConversations, double TokensPerSecond, bool ModelLoaded)
{
    public static SiloLoad Idle { get; } = new(0, 0, 0, 0, false);
}

/// <param name="Endpoint">Base URL other processes call, e.g. http://10.0.0.5:7101.</param>
public sealed record SiloRecord(string SiloId, string Endpoint, SiloStatus Status, SiloLoad Load, DateTimeOffset StartedAt, DateTimeOffset LastHeartbeat);

public sealed class SiloDeclaredDeadException(string siloId)
    : Exception($"silo '{siloId}' was declared dead by the cluster and must not serve any more");
