using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Silo.Storage.Postgres;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Silo.Tests.Storage.Postgres;

[Collection(PostgresServerFixture.CollectionName)]
public sealed class PostgresSchemaMigratorTests(PostgresServerFixture postgres)
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static readonly SchemaModule Ledger = new("ledger",
    [
        new SchemaMigration(1, "ledger table", "CREATE TABLE ledger (id integer PRIMARY KEY)"),
        new SchemaMigration(2, "ledger amount", "ALTER TABLE ledger ADD COLUMN amount bigint NOT NULL DEFAULT 0"),
    ]);

    private static readonly SchemaModule Notes = new("notes",
    [
        new SchemaMigration(1, "notes table", "CREATE TABLE notes (id integer PRIMARY KEY)"),
        new SchemaMigration(2, "notes text", "ALTER TABLE notes ADD COLUMN body text NOT NULL DEFAULT ''"),
    ]);

    [Fact]
    public async Task A_fresh_database_gets_every_table_and_a_version_row_per_migration()
    {
        await using NpgsqlDataSource dataSource = await FreshDatabaseAsync();

        IReadOnlyList<AppliedMigration> applied = await Migrator(dataSource, Ledger, Notes).MigrateAsync(None);

        applied.Select(m => (m.Module, m.Version)).Should().Equal(("ledger", 1), ("ledger", 2), ("notes", 1), ("notes", 2));
        (await TablesAsync(dataSource)).Should().BeEquivalentTo("schema_version", "ledger", "notes");
        (await VersionRowsAsync(dataSource)).Should().Equal("ledger 1", "ledger 2", "notes 1", "notes 2");
    }

    [Fact]
    public async Task Running_again_applies_nothing()
    {
        await using NpgsqlDataSource dataSource = await FreshDatabaseAsync();
        await Migrator(dataSource, Ledger, Notes).MigrateAsync(None);

        (await Migrator(dataSource, Ledger, Notes).MigrateAsync(None)).Should().BeEmpty();
        (await VersionRowsAsync(dataSource)).Should().HaveCount(4);
    }

    [Fact]
    public async Task Four_processes_migrating_at_once_apply_each_migration_exactly_once()
    {
        string connectionString = await postgres.CreateDatabaseAsync("concurrent", None);
        NpgsqlDataSource[] processes = [.. Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(connectionString))];
        try
        {
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<IReadOnlyList<AppliedMigration>>[] running = [.. processes.Select(dataSource => Task.Run(async () =>
            {
                PostgresSchemaMigrator migrator = Migrator(dataSource, Ledger, Notes);
                await start.Task;
                return await migrator.MigrateAsync(None);
            }))];
            start.SetResult();
            IReadOnlyList<AppliedMigration>[] results = await Task.WhenAll(running);

            results.SelectMany(r => r).Select(m => $"{m.Module} {m.Version}")
                .Should().BeEquivalentTo(["ledger 1", "ledger 2", "notes 1", "notes 2"]);
            results.Count(r => r.Count > 0).Should().Be(1, "the first process to take the lock applies everything");
            (await VersionRowsAsync(processes[0])).Should().Equal("ledger 1", "ledger 2", "notes 1", "notes 2");
        }
        finally
        {
            foreach (NpgsqlDataSource dataSource in processes)
            {
                await dataSource.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_new_migration_is_applied_on_top_of_the_old_ones()
    {
        await using NpgsqlDataSource dataSource = await FreshDatabaseAsync();
        await Migrator(dataSource, Notes with { Migrations = [Notes.Migrations[0]] }).MigrateAsync(None);
        await using (NpgsqlCommand insert = dataSource.CreateCommand("INSERT INTO notes (id) VALUES (7)"))
        {
            await insert.ExecuteNonQueryAsync();
        }

        (await Migrator(dataSource, Notes).MigrateAsync(None)).Select(m => m.Version).Should().Equal(2);

        await using NpgsqlCommand read = dataSource.CreateCommand("SELECT count(*) FROM notes WHERE body = ''");
        (await read.ExecuteScalarAsync()).Should().Be(1L, "existing rows survive the migration");
    }

    [Fact]
    public async Task A_failing_migration_rolls_back_the_whole_run()
    {
        await using NpgsqlDataSource dataSource = await FreshDatabaseAsync();
        var broken = new SchemaModule("broken", [new SchemaMigration(1, "typo", "CREATE TABLEE oops (id integer)")]);

        await Migrator(dataSource, Ledger, broken).Invoking(m => m.MigrateAsync(None))
            .Should().ThrowAsync<PostgresUnavailableException>().WithMessage("*rejected*42601*syntax error*");

        (await TablesAsync(dataSource)).Should().BeEmpty("schema_version and ledger were created in the rolled-back transaction");
    }

    [Fact]
    public async Task A_database_newer_than_the_build_is_left_alone()
    {
        await using NpgsqlDataSource dataSource = await FreshDatabaseAsync();
        await Migrator(dataSource, Notes).MigrateAsync(None);

        (await Migrator(dataSource, Notes with { Migrations = [Notes.Migrations[0]] }).MigrateAsync(None)).Should().BeEmpty();
        (await VersionRowsAsync(dataSource)).Should().Equal("notes 1", "notes 2");
    }

    [Fact]
    public void Misnumbered_or_duplicate_modules_are_refused()
    {
        NpgsqlDataSource dataSource = NpgsqlDataSource.Create("Host=127.0.0.1");
        var gap = new SchemaModule("gap", [new SchemaMigration(1, "a", "SELECT 1"), new SchemaMigration(3, "c", "SELECT 1")]);

        FluentActions.Invoking(() => Migrator(dataSource, gap)).Should().Throw<ArgumentException>().WithMessage("*'gap'*1, 2, 3*");
        FluentActions.Invoking(() => Migrator(dataSource, Notes, Notes)).Should().Throw<ArgumentException>().WithMessage("*unique*");
    }

    private static PostgresSchemaMigrator Migrator(NpgsqlDataSource dataSource, params SchemaModule[] modules) =>
        new(dataSource, modules, NullLogger<PostgresSchemaMigrator>.Instance);

    private async Task<NpgsqlDataSource> FreshDatabaseAsync() =>
        NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("migrator", None));

    private static async Task<List<string>> TablesAsync(NpgsqlDataSource dataSource)
    {
        await using NpgsqlCommand command = dataSource.CreateCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        var tables = new List<string>();
        while (await reader.ReadAsync())
        {
            tables.Add(reader.GetString(0));
        }

        return tables;
    }

    private static async Task<List<string>> VersionRowsAsync(NpgsqlDataSource dataSource)
    {
        await using NpgsqlCommand command = dataSource.CreateCommand("SELECT module || ' ' || version FROM schema_version ORDER BY module, version");
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
