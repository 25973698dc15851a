using Microsoft.Extensions.Logging;
using Npgsql;
using Qwen.Cluster.Postgres;

namespace Qwen.Cluster.Membership;

/// <summary>
/// The membership table in PostgreSQL (table silos, see <see cref="MembershipSchema"/>).
/// Heartbeat times come from the database's clock (now()), so silos' clock skew does not
/// decide who is stale.
/// </summary>
public sealed class PostgresMembershipTable : IMembershipTable
{
    private const string Columns =
        "silo_id, endpoint, status, queue_length, active_requests, active_conversations, tokens_per_second, model_loaded, started_at, last_heartbeat";

    private readonly PostgresExecutor executor;
    private readonly ILogger<PostgresMembershipTable> logger;

    public PostgresMembershipTable(NpgsqlDataSource dataSource, ILogger<PostgresMembershipTable> logger)
    {
        executor = new PostgresExecutor(dataSource, (message, server, e) => new ClusterStoreUnavailableException(message, server, e));
        this.logger = logger;
    }

    public Task RegisterAsync(SiloRecord silo, CancellationToken cancellationToken)
    {
        MembershipArguments.Validate(silo);
        return executor.RunAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand(
                    $"""
                    INSERT INTO silos ({Columns})
                    VALUES (@silo_id, @endpoint, @status, @queue_length, @active_requests, @active_conversations,
                            @tokens_per_second, @model_loaded, @started_at, now())
                    ON CONFLICT (silo_id) DO UPDATE SET
                        endpoint = excluded.endpoint, status = excluded.status,
                        queue_length = excluded.queue_length, active_requests = excluded.active_requests,
                        active_conversations = excluded.active_conversations, tokens_per_second = excluded.tokens_per_second,
                        model_loaded = excluded.model_loaded, started_at = excluded.started_at, last_heartbeat = now()
                    """,
                    connection);
                command.Parameters.AddWithValue("silo_id", silo.SiloId);
                command.Parameters.AddWithValue("endpoint", silo.Endpoint);
                command.Parameters.AddWithValue("status", SiloStatusNames.ToName(silo.Status));
                AddLoad(command, silo.Load);
                command.Parameters.AddWithValue("started_at", PostgresTimestamps.Normalize(silo.StartedAt));
                return await command.ExecuteNonQueryAsync(ct);
            },
            cancellationToken);
    }

    public Task HeartbeatAsync(string siloId, SiloLoad load, CancellationToken cancellationToken)
    {
        MembershipArguments.ValidateSiloId(siloId);
        ArgumentNullException.ThrowIfNull(load);
        return executor.RunAsync(
            async (connection, ct) =>
            {
                await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(ct);
                SiloStatus status = await LockStatusAsync(connection, siloId, ct);
                if (status == SiloStatus.Dead)
                {
                    throw new SiloDeclaredDeadException(siloId);
                }

                await using var command = new NpgsqlCommand(
                    """
                    UPDATE silos SET queue_length = @queue_length, active_requests = @active_requests,
                        active_conversations = @active_conversations, tokens_per_second = @tokens_per_second,
                        model_loaded = @model_loaded, last_heartbeat = now()
                    WHERE silo_id = @silo_id
                    """,
                    connection);
                command.Parameters.AddWithValue("silo_id", siloId);
                AddLoad(command, load);
                await command.ExecuteNonQueryAsync(ct);
                await transaction.CommitAsync(ct);
                return true;
            },
            cancellationToken);
    }

    public Task SetStatusAsync(string siloId, SiloStatus status, CancellationToken cancellationToken)
    {
        MembershipArguments.ValidateSiloId(siloId);
        MembershipArguments.Validate(status);
        return executor.RunAsync(
            async (connection, ct) =>
            {
                await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(ct);
                SiloStatus current = await LockStatusAsync(connection, siloId, ct);
                if (current == SiloStatus.Dead && status != SiloStatus.Dead)
                {
                    throw new SiloDeclaredDeadException(siloId);
                }

                await using var command = new NpgsqlCommand("UPDATE silos SET status = @status WHERE silo_id = @silo_id", connection);
                command.Parameters.AddWithValue("silo_id", siloId);
                command.Parameters.AddWithValue("status", SiloStatusNames.ToName(status));
                await command.ExecuteNonQueryAsync(ct);
                await transaction.CommitAsync(ct);
                return true;
            },
            cancellationToken);
    }

    public Task<IReadOnlyList<SiloRecord>> ReadAllAsync(CancellationToken cancellationToken) =>
        executor.RunAsync<IReadOnlyList<SiloRecord>>(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand($"SELECT {Columns} FROM silos ORDER BY silo_id", connection);
                await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(ct);
                var silos = new List<SiloRecord>();
                while (await reader.ReadAsync(ct))
                {
                    silos.Add(new SiloRecord(
                        reader.GetString(0),
                        reader.GetString(1),
                        SiloStatusNames.Parse(reader.GetString(2)),
                        new SiloLoad(reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetDouble(6), reader.GetBoolean(7)),
                        reader.GetFieldValue<DateTimeOffset>(8),
                        reader.GetFieldValue<DateTimeOffset>(9)));
                }

                return silos;
            },
            cancellationToken);

    public async Task<IReadOnlyList<string>> DeclareStaleSilosDeadAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        MembershipArguments.Validate(timeout);
        IReadOnlyList<string> declared = await executor.RunAsync<IReadOnlyList<string>>(
            async (connection, ct) =>
            {
                // One statement: concurrent declarers each get only the silos they flipped. Rows locked by
                // another session are skipped, not waited for: a silo cut off mid-heartbeat leaves its row
                // locked until the server ends that session, and the declarers' own heartbeats must not stall.
                await using var command = new NpgsqlCommand(
                    """
                    UPDATE silos SET status = 'dead'
                    WHERE silo_id IN (
                        SELECT silo_id FROM silos
                        WHERE status <> 'dead' AND last_heartbeat < now() - @timeout
                        FOR UPDATE SKIP LOCKED)
                    RETURNING silo_id
                    """,
                    connection);
                command.Parameters.AddWithValue("timeout", timeout);
                await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(ct);
                var ids = new List<string>();
                while (await reader.ReadAsync(ct))
                {
                    ids.Add(reader.GetString(0));
                }

                ids.Sort(StringComparer.Ordinal);
                return ids;
            },
            cancellationToken);

        foreach (string siloId in declared)
        {
            logger.LogWarning("Declared silo {SiloId} dead: no heartbeat for {Timeout}", siloId, timeout);
        }

        return declared;
    }

    private static async Task<SiloStatus> LockStatusAsync(NpgsqlConnection connection, string siloId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT status FROM silos WHERE silo_id = @silo_id FOR UPDATE", connection);
        command.Parameters.AddWithValue("silo_id", siloId);
        object? status = await command.ExecuteScalarAsync(cancellationToken);
        return status is string name ? SiloStatusNames.Parse(name) : throw new SiloNotRegisteredException(siloId);
    }

    private static void AddLoad(NpgsqlCommand command, SiloLoad load)
    {
        command.Parameters.AddWithValue("queue_length", load.QueueLength);
        command.Parameters.AddWithValue("active_requests", load.ActiveRequests);
        command.Parameters.AddWithValue("active_conversations", load.ActiveConversations);
        command.Parameters.AddWithValue("tokens_per_second", load.TokensPerSecond);
        command.Parameters.AddWithValue("model_loaded", load.ModelLoaded);
    }
}
