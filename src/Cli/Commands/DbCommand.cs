using System.CommandLine;
using Microsoft.Extensions.Logging;
using Npgsql;
using Qwen.Silo.Storage;
using Qwen.Silo.Storage.Postgres;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen db migrate --connection STR</c>: creates or migrates the cluster schema ahead of the
/// first silo, with the same migrator and modules the silos run at start.
/// </summary>
internal static class DbCommand
{
    public static Command Create()
    {
        var connection = ClusterDatabase.ConnectionOption();
        var migrate = new Command("migrate", "Create or migrate the cluster schema (conversations, API keys); safe to run again.")
        {
            connection,
        };
        migrate.SetAction((parse, ct) => CliApp.Guard(() =>
            MigrateAsync(parse.GetValue(connection), ct)));
        return new Command("db", "Cluster database administration.") { migrate };
    }

    private static async Task<int> MigrateAsync(string? connection, CancellationToken cancellationToken)
    {
        // Only the migrator's warnings (e.g. a database newer than this build) are worth showing, on stderr.
        using var loggerFactory = LoggerFactory.Create(logging => logging
            .SetMinimumLevel(LogLevel.Warning)
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        NpgsqlDataSource dataSource = ClusterDatabase.Open(connection);
        await using (dataSource)
        {
            try
            {
                var migrator = new PostgresSchemaMigrator(dataSource, [ConversationSchema.Module, ApiKeySchema.Module],
                    loggerFactory.CreateLogger<PostgresSchemaMigrator>());
                IReadOnlyList<AppliedMigration> applied = await migrator.MigrateAsync(cancellationToken);
                foreach (AppliedMigration migration in applied)
                {
                    Console.WriteLine($"applied {migration.Module} v{migration.Version}: {migration.Description}");
                }

                string versions = await ReadVersionsAsync(dataSource, cancellationToken);
                Console.WriteLine(applied.Count == 0 ? $"schema up to date: {versions}" : $"schema now at: {versions}");
                return 0;
            }
            catch (PostgresUnavailableException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return ClusterDatabase.Unavailable;
            }
        }
    }

    private static async Task<string> ReadVersionsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using NpgsqlCommand command = dataSource.CreateCommand(
            "SELECT module, max(version) FROM schema_version GROUP BY module ORDER BY module");
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var versions = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add($"{reader.GetString(0)} v{reader.GetInt32(1)}");
        }

        return string.Join(", ", versions);
    }
}
