using Microsoft.Extensions.Logging;
using Npgsql;

namespace Qwen.Silo.Storage.Postgres;

/// <summary>
/// Creates and migrates every cluster table at start. Safe when several processes start at
/// once: all of them take one transaction-scoped advisory lock, so migrations run exactly once
/// and a process that waited finds them recorded in schema_version.
/// </summary>
public sealed class PostgresSchemaMigrator
{
    // Arbitrary but fixed: every process of every version must agree on it ("QWENSCMA").
    private const long MigrationLockKey = 0x5157454E53434D41;

    private readonly IReadOnlyList<SchemaModule> _modules;
    private readonly PostgresExecutor _executor;
    private readonly ILogger<PostgresSchemaMigrator> _logger;

    public PostgresSchemaMigrator(NpgsqlDataSource dataSource, IEnumerable<SchemaModule> modules, ILogger<PostgresSchemaMigrator> logger)
    {
        _modules = [.. modules];
        Validate(_modules);
        _logger = logger;
        _executor = new PostgresExecutor(dataSource, (message, server, e) => new PostgresUnavailableException(message, server, e));
    }

    /// <summary>Applies the migrations the database does not have yet; returns them (empty when up to date).</summary>
    /// <exception cref="PostgresUnavailableException">PostgreSQL cannot be reached or refused a migration.</exception>
    public async Task<IReadOnlyList<AppliedMigration>> MigrateAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<AppliedMigration> applied = await _executor.RunAsync(MigrateAsync, cancellationToken);
        foreach (AppliedMigration migration in applied)
        {
            _logger.LogInformation(
                "Applied schema migration {Module} v{Version}: {Description}", migration.Module, migration.Version, migration.Description);
        }

        return applied;
    }

    private async Task<IReadOnlyList<AppliedMigration>> MigrateAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, "SELECT pg_advisory_xact_lock(@key)", cancellationToken, ("key", MigrationLockKey));
        await ExecuteAsync(
            connection,
            """
            CREATE TABLE IF NOT EXISTS schema_version (
                module      text        NOT NULL,
                version     integer     NOT NULL,
                description text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (module, version))
            """,
            cancellationToken);

        Dictionary<string, int> current = await ReadVersionsAsync(connection, cancellationToken);
        var applied = new List<AppliedMigration>();
        foreach (SchemaModule module in _modules)
        {
            int have = current.GetValueOrDefault(module.Name);
            int known = module.Migrations.Count;
            if (have > known)
            {
                // A newer build migrated this database; migrations are additive, so older code keeps working.
                _logger.LogWarning(
                    "Schema module {Module} is at v{DatabaseVersion}, newer than this build's v{KnownVersion}",
                    module.Name, have, known);
                continue;
            }

            foreach (SchemaMigration migration in module.Migrations.Skip(have))
            {
                await ExecuteAsync(connection, migration.Sql, cancellationToken);
                await ExecuteAsync(
                    connection,
                    "INSERT INTO schema_version (module, version, description) VALUES (@module, @version, @description)",
                    cancellationToken,
                    ("module", module.Name),
                    ("version", migration.Version),
                    ("description", migration.Description));
                applied.Add(new AppliedMigration(module.Name, migration.Version, migration.Description));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return applied;
    }

    private static async Task<Dictionary<string, int>> ReadVersionsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT module, max(version) FROM schema_version GROUP BY module", connection);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var versions = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions[reader.GetString(0)] = reader.GetInt32(1);
        }

        return versions;
    }

    private static async Task ExecuteAsync(
        NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach ((string name, object value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void Validate(IReadOnlyList<SchemaModule> modules)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (SchemaModule module in modules)
        {
            if (string.IsNullOrWhiteSpace(module.Name) || !names.Add(module.Name))
            {
                throw new ArgumentException($"schema module names must be non-empty and unique ('{module.Name}')", nameof(modules));
            }

            for (int i = 0; i < module.Migrations.Count; i++)
            {
                if (module.Migrations[i].Version != i + 1)
                {
                    throw new ArgumentException(
                        $"schema module '{module.Name}' must number its migrations 1, 2, 3, ... (position {i + 1} is v{module.Migrations[i].Version})",
                        nameof(modules));
                }
            }
        }
    }
}
