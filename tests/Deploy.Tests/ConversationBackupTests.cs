using System.Globalization;
using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// deploy/postgres/conversations.sh: conversations written by the silos' store are backed up from
/// one database and restored into a fresh one made by setup.sh, where the store reads them back
/// with the same turns and versions (so optimistic concurrency continues where it stopped).
/// </summary>
[Collection(PostgresServerFixture.CollectionName)]
public sealed class ConversationBackupTests(PostgresServerFixture postgres) : IDisposable
{
    private const string Role = "qwen_backup";
    private const string Password = "backup-pass";
    private readonly string _root = Directory.CreateTempSubdirectory("qwen-backup-").FullName;

    [Fact]
    public async Task Backup_restores_every_turn_and_version_into_a_new_database_and_refuses_to_overwrite_without_replace()
    {
        string source = await SetupDatabaseAsync("qwen_backup_source");
        string target = await SetupDatabaseAsync("qwen_backup_target");
        var written = await WriteConversationsAsync(source);
        string backup = Path.Combine(_root, "conversations.dump");

        var dump = await ConversationsAsync(["backup", backup, "--dbname", LibpqConnection("qwen_backup_source")]);
        dump.ExitCode.Should().Be(0, dump.ToString());
        // Written after the backup: not in it.
        await WriteTurnAsync(source, "late-user", "late-1", "after the backup");

        var restore = await ConversationsAsync(["restore", backup, "--dbname", LibpqConnection("qwen_backup_target")]);
        restore.ExitCode.Should().Be(0, restore.ToString());
        restore.Stdout.Should().Contain($"restored {written.Count} conversations");
        foreach (var (user, state) in written)
        {
            (await ReadAsync(target, user)).Should().BeEquivalentTo(state, o => o.WithStrictOrdering());
        }
        (await ReadAsync(target, "late-user")).Turns.Should().BeEmpty();

        // The restored store goes on where the backup stopped.
        var next = await new PostgresConversationStore(Source(target), NullLogger<PostgresConversationStore>.Instance)
            .AppendTurnAsync("alice", new StoredTurn("alice-4", "再见", "再见！", DateTimeOffset.UtcNow), written["alice"].Version, CancellationToken.None);
        next.Version.Should().Be(written["alice"].Version + 1);

        var refused = await ConversationsAsync(["restore", backup, "--dbname", LibpqConnection("qwen_backup_target")]);
        refused.ExitCode.Should().Be(1, refused.ToString());
        refused.Stderr.Should().Contain($"already holds {written.Count} conversations; restore with --replace");

        var replaced = await ConversationsAsync(["restore", backup, "--dbname", LibpqConnection("qwen_backup_target"), "--replace"]);
        replaced.ExitCode.Should().Be(0, replaced.ToString());
        (await ReadAsync(target, "alice")).Should().BeEquivalentTo(written["alice"], o => o.WithStrictOrdering());
    }

    [Fact]
    public async Task Restore_of_an_unreadable_backup_changes_nothing()
    {
        string database = await SetupDatabaseAsync("qwen_backup_damaged");
        var written = await WriteConversationsAsync(database);
        string damaged = Path.Combine(_root, "damaged.dump");
        await File.WriteAllTextAsync(damaged, "PGDMP this is not a backup");

        var run = await ConversationsAsync(["restore", damaged, "--dbname", LibpqConnection("qwen_backup_damaged"), "--replace"]);

        run.ExitCode.Should().Be(1, run.ToString());
        run.Stderr.Should().Contain("cannot read the backup");
        (await ReadAsync(database, "bob")).Should().BeEquivalentTo(written["bob"], o => o.WithStrictOrdering());
    }

    private async Task<string> SetupDatabaseAsync(string database)
    {
        var run = await ScriptRun.RunAsync(DeployPaths.Deploy("postgres", "setup.sh"),
        [
            "--host", postgres.Server.Host, "--port", postgres.Server.Port.ToString(CultureInfo.InvariantCulture),
            "--database", database, "--role", Role, "--qwen", DeployPaths.QwenCommand,
        ], new Dictionary<string, string?> { ["QWEN_DB_PASSWORD"] = Password, ["PGPASSWORD"] = null });
        run.ExitCode.Should().Be(0, run.ToString());
        return new NpgsqlConnectionStringBuilder
        {
            Host = postgres.Server.Host, Port = postgres.Server.Port, Database = database, Username = Role, Password = Password,
        }.ConnectionString;
    }

    private string LibpqConnection(string database) =>
        $"host={postgres.Server.Host} port={postgres.Server.Port} dbname={database} user={Role}";

    private async Task<Dictionary<string, ConversationState>> WriteConversationsAsync(string connection)
    {
        var turns = new Dictionary<string, string[]>
        {
            ["alice"] = ["你好", "今天天气怎么样？", "谢谢"],
            ["bob"] = ["line one\nline two\ttab \\ backslash", "quote ' and \" and ;"],
            ["carol.c@example"] = ["emoji 😀 and NUL-free text"],
        };
        foreach (var (user, messages) in turns)
        {
            for (int i = 0; i < messages.Length; i++) await WriteTurnAsync(connection, user, $"{user}-{i + 1}", messages[i]);
        }

        var states = new Dictionary<string, ConversationState>();
        foreach (string user in turns.Keys) states[user] = await ReadAsync(connection, user);
        return states;
    }

    private static async Task WriteTurnAsync(string connection, string user, string turnId, string message)
    {
        await using var source = Source(connection);
        var store = new PostgresConversationStore(source, NullLogger<PostgresConversationStore>.Instance);
        var state = await store.ReadAsync(user, CancellationToken.None);
        var completed = new DateTimeOffset(2026, 11, 21, 10, 0, state.Turns.Count, TimeSpan.Zero);
        await store.AppendTurnAsync(user, new StoredTurn(turnId, message, $"reply to {message}", completed), state.Version, CancellationToken.None);
    }

    private static async Task<ConversationState> ReadAsync(string connection, string user)
    {
        await using var source = Source(connection);
        return await new PostgresConversationStore(source, NullLogger<PostgresConversationStore>.Instance).ReadAsync(user, CancellationToken.None);
    }

    private static NpgsqlDataSource Source(string connection) => NpgsqlDataSource.Create(connection + ";Pooling=false");

    private static Task<ScriptRun> ConversationsAsync(IEnumerable<string> arguments) =>
        ScriptRun.RunAsync(DeployPaths.Deploy("postgres", "conversations.sh"), arguments,
            new Dictionary<string, string?> { ["PGPASSWORD"] = Password, ["PGHOST"] = null, ["PGDATABASE"] = null, ["PGUSER"] = null });

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
