namespace Qwen.Cluster.Membership;

/// <summary>
/// The cluster's membership table: every silo registers itself, heartbeats with its load
/// figures, and is declared dead by any member that sees its heartbeat go stale. A table backed
/// by a database throws <see cref="Postgres.ClusterStoreUnavailableException"/> when it cannot be reached.
/// </summary>
public interface IMembershipTable
{
    /// <summary>
    /// Inserts or replaces this silo's row (status <see cref="SiloStatus.Joining"/> or later). The
    /// heartbeat time is the table's clock, not <see cref="SiloRecord.LastHeartbeat"/>; replacing a
    /// dead row is how a restarted silo with the same id comes back.
    /// </summary>
    Task RegisterAsync(SiloRecord silo, CancellationToken cancellationToken);

    /// <summary>Refreshes the silo's heartbeat time and load; fails if the silo was declared dead.</summary>
    /// <exception cref="SiloDeclaredDeadException">Another member declared this silo dead.</exception>
    /// <exception cref="SiloNotRegisteredException">The silo never registered.</exception>
    Task HeartbeatAsync(string siloId, SiloLoad load, CancellationToken cancellationToken);

    /// <summary>Changes the silo's status; a dead silo can only stay dead (it must register again).</summary>
    /// <exception cref="SiloDeclaredDeadException">The silo is dead and the new status is not.</exception>
    /// <exception cref="SiloNotRegisteredException">The silo never registered.</exception>
    Task SetStatusAsync(string siloId, SiloStatus status, CancellationToken cancellationToken);

    /// <summary>All rows, any status, ordered by silo id.</summary>
    Task<IReadOnlyList<SiloRecord>> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Marks as dead every cold/joining/active/leaving silo whose last heartbeat is older than
    /// <paramref name="timeout"/> by the table's own clock; returns the ids this call declared
    /// (concurrent callers never both report the same silo).
    /// </summary>
    Task<IReadOnlyList<string>> DeclareStaleSilosDeadAsync(TimeSpan timeout, CancellationToken cancellationToken);
}

public enum SiloStatus
{
    Joining,
    Active,
    Leaving,
    Dead,

    /// <summary>Registered and heartbeating with its model not loaded: never routed to until it warms up (then Joining, Active).</summary>
    Cold,
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
