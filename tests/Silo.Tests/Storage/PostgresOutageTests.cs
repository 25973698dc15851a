using System.Collections.Concurrent;
using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Silo.Storage.Postgres;
using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Qwen.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Silo.Tests.Storage;

/// <summary>PostgreSQL going away mid-run and coming back, on a server each test owns.</summary>
public sealed class PostgresOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Noon = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    private PostgresServer server = null!;
    private NpgsqlDataSource dataSource = null!;
    private PostgresConversationStore store = null!;

    public async Task InitializeAsync()
    {
        server = await PostgresServer.StartNewAsync(None);
        dataSource = NpgsqlDataSource.Create(server.ConnectionString);
        await new PostgresSchemaMigrator(dataSource, [ConversationSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance)
            .MigrateAsync(None);
        store = new PostgresConversationStore(dataSource, NullLogger<PostgresConversationStore>.Instance);
    }

    public async Task DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task While_the_server_is_down_every_call_fails_clearly_and_afterwards_the_store_carries_on()
    {
        await store.AppendTurnAsync("alice", Turn("t1"), 0, None);
        await store.AppendTurnAsync("alice", Turn("t2"), 1, None);

        await server.StopAsync(None);
        string where = $"127.0.0.1:{server.Port}";
        await store.Invoking(s => s.ReadAsync("alice", None)).Should().ThrowAsync<StorageUnavailableException>().WithMessage($"*{where}*");
        await store.Invoking(s => s.AppendTurnAsync("alice", Turn("t3"), 2, None)).Should().ThrowAsync<StorageUnavailableException>();
        await store.Invoking(s => s.ResetAsync("alice", None)).Should().ThrowAsync<StorageUnavailableException>();

        await server.RestartAsync(None);
        ConversationState state = await store.ReadAsync("alice", None);
        state.Version.Should().Be(2);
        state.Turns.Should().Equal(Turn("t1"), Turn("t2"));
        (await store.AppendTurnAsync("alice", Turn("t3"), 2, None)).Version.Should().Be(3);
    }

    [Fact]
    public async Task A_crash_during_concurrent_appends_loses_no_acknowledged_turn_and_leaves_no_partial_write()
    {
        string[] users = [.. Enumerable.Range(0, 16).Select(i => $"user-{i}")];
        var acknowledged = new ConcurrentDictionary<string, List<StoredTurn>>();
        var inDoubt = new ConcurrentDictionary<string, StoredTurn>();
        Task[] writers = [.. users.Select(user => Task.Run(async () =>
        {
            var acked = new List<StoredTurn>();
            acknowledged[user] = acked;
            for (int i = 0; ; i++)
            {
                StoredTurn turn = Turn($"{user}-t{i}");
                try
                {
                    await store.AppendTurnAsync(user, turn, acked.Count, None);
                    acked.Add(turn);
                }
                catch (StorageUnavailableException)
                {
                    // Lost with the connection: maybe committed, maybe not.
                    inDoubt[user] = turn;
                    return;
                }
            }
        }))];

        // Crash only once appends are flowing, however busy the machine is.
        var flowing = DateTime.UtcNow.AddSeconds(30);
        while (acknowledged.Values.Sum(a => a.Count) <= 2 * users.Length && DateTime.UtcNow < flowing) await Task.Delay(50);
        await server.StopAsync(None);
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));
        await server.RestartAsync(None);

        acknowledged.Values.Sum(a => a.Count).Should().BeGreaterThan(users.Length, "appends were running when the server died");
        int committedInDoubt = 0;
        foreach (string user in users)
        {
            List<StoredTurn> acked = acknowledged[user];
            StoredTurn doubtful = inDoubt[user];
            ConversationState state = await store.ReadAsync(user, None);
            state.Version.Should().Be(state.Turns.Count, "a version bump is never committed without its turn");
            state.Turns.Take(acked.Count).Should().Equal(acked, "every acknowledged turn survives, in order");
            state.Turns.Skip(acked.Count).Should().BeSubsetOf([doubtful]);

            // The caller's retry with the same turn id settles the doubt either way.
            AppendResult retried = await store.AppendTurnAsync(user, doubtful, acked.Count, None);
            retried.AlreadyStored.Should().Be(state.Turns.Count > acked.Count);
            committedInDoubt += retried.AlreadyStored ? 1 : 0;
            (await store.ReadAsync(user, None)).Turns.Should().Equal([.. acked, doubtful]);
        }

        output.WriteLine(
            $"{acknowledged.Values.Sum(a => a.Count)} turns acknowledged before the crash; " +
            $"{committedInDoubt} of {users.Length} unacknowledged turns had committed");
    }

    [Fact]
    public async Task Connections_that_died_in_the_pool_while_idle_are_replaced_without_an_error()
    {
        await store.AppendTurnAsync("bob", Turn("t1"), 0, None);
        await store.ReadAsync("bob", None);

        await server.RestartAsync(None);

        (await store.ReadAsync("bob", None)).Turns.Should().Equal(Turn("t1"));
        (await store.AppendTurnAsync("bob", Turn("t2"), 1, None)).Version.Should().Be(2);
    }

    private static StoredTurn Turn(string turnId) => new(turnId, $"message {turnId}", $"reply {turnId}", Noon);
}
