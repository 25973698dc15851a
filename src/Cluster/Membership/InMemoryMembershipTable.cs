using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Qwen.Cluster.Postgres;

namespace Qwen.Cluster.Membership;

/// <summary>
/// The membership table of the embedded single-process mode, with the same semantics as
/// <see cref="PostgresMembershipTable"/>; its clock is the given <see cref="TimeProvider"/>.
/// </summary>
public sealed class InMemoryMembershipTable(TimeProvider clock, ILogger<InMemoryMembershipTable> logger) : IMembershipTable
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, SiloRecord> silos = new(StringComparer.Ordinal);

    public InMemoryMembershipTable()
        : this(TimeProvider.System, NullLogger<InMemoryMembershipTable>.Instance)
    {
    }

    public Task RegisterAsync(SiloRecord silo, CancellationToken cancellationToken)
    {
        MembershipArguments.Validate(silo);
        cancellationToken.ThrowIfCancellationRequested();
        lock (gate)
        {
            silos[silo.SiloId] = silo with { StartedAt = PostgresTimestamps.Normalize(silo.StartedAt), LastHeartbeat = Now() };
        }

        return Task.CompletedTask;
    }

    public Task HeartbeatAsync(string siloId, SiloLoad load, CancellationToken cancellationToken)
    {
        MembershipArguments.ValidateSiloId(siloId);
        ArgumentNullException.ThrowIfNull(load);
        cancellationToken.ThrowIfCancellationRequested();
        lock (gate)
        {
            SiloRecord current = Find(siloId);
            if (current.Status == SiloStatus.Dead)
            {
                throw new SiloDeclaredDeadException(siloId);
            }

            silos[siloId] = current with { Load = load, LastHeartbeat = Now() };
        }

        return Task.CompletedTask;
    }

    public Task SetStatusAsync(string siloId, SiloStatus status, CancellationToken cancellationToken)
    {
        MembershipArguments.ValidateSiloId(siloId);
        MembershipArguments.Validate(status);
        cancellationToken.ThrowIfCancellationRequested();
        lock (gate)
        {
            SiloRecord current = Find(siloId);
            if (current.Status == SiloStatus.Dead && status != SiloStatus.Dead)
            {
                throw new SiloDeclaredDeadException(siloId);
            }

            silos[siloId] = current with { Status = status };
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<SiloRecord>> ReadAllAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<SiloRecord>>([.. silos.Values.OrderBy(s => s.SiloId, StringComparer.Ordinal)]);
        }
    }

    public Task<IReadOnlyList<string>> DeclareStaleSilosDeadAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        MembershipArguments.Validate(timeout);
        cancellationToken.ThrowIfCancellationRequested();
        var declared = new List<string>();
        lock (gate)
        {
            DateTimeOffset cutoff = clock.GetUtcNow() - timeout;
            foreach (SiloRecord silo in silos.Values.Where(s => s.Status != SiloStatus.Dead && s.LastHeartbeat < cutoff).ToList())
            {
                silos[silo.SiloId] = silo with { Status = SiloStatus.Dead };
                declared.Add(silo.SiloId);
            }
        }

        declared.Sort(StringComparer.Ordinal);
        foreach (string siloId in declared)
        {
            logger.LogWarning("Declared silo {SiloId} dead: no heartbeat for {Timeout}", siloId, timeout);
        }

        return Task.FromResult<IReadOnlyList<string>>(declared);
    }

    private SiloRecord Find(string siloId) =>
        silos.TryGetValue(siloId, out SiloRecord? silo) ? silo : throw new SiloNotRegisteredException(siloId);

    private DateTimeOffset Now() => PostgresTimestamps.Normalize(clock.GetUtcNow());
}
