using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Postgres;
using Qwen.Cluster.Schema;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Cluster.Tests.Membership;

/// <summary>
/// A silo whose network vanishes in the middle of its heartbeat transaction leaves its row locked:
/// declaring stale silos dead must not wait on that lock, and the server must end the orphaned session.
/// </summary>
[Collection(PostgresServerFixture.CollectionName)]
public sealed class VanishedSessionTests(PostgresServerFixture postgres)
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_row_locked_by_a_vanished_silo_neither_blocks_the_declarers_nor_stays_locked()
    {
        string connection = await postgres.CreateDatabaseAsync("vanished", None);
        var options = new PostgresOptions { ConnectionString = connection, IdleInTransactionTimeout = TimeSpan.FromSeconds(2) };
        await using var declarerSource = PostgresDataSourceFactory.Create(options);
        await new PostgresSchemaMigrator(declarerSource, [MembershipSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance).MigrateAsync(None);
        var table = new PostgresMembershipTable(declarerSource, NullLogger<PostgresMembershipTable>.Instance);
        var now = DateTimeOffset.UtcNow;
        await table.RegisterAsync(new SiloRecord("cut-off", "http://10.0.0.2:7101", SiloStatus.Active, SiloLoad.Idle, now, now), None);

        // The cut-off silo's heartbeat took its row lock, then its network went away: the session idles in its transaction.
        await using var vanishedSource = PostgresDataSourceFactory.Create(options);
        await using var vanished = await vanishedSource.OpenConnectionAsync(None);
        await using var transaction = await vanished.BeginTransactionAsync(None);
        await using (var lockRow = new NpgsqlCommand("SELECT status FROM silos WHERE silo_id = 'cut-off' FOR UPDATE", vanished, transaction))
            await lockRow.ExecuteScalarAsync(None);
        await Task.Delay(TimeSpan.FromSeconds(1.2));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        (await table.DeclareStaleSilosDeadAsync(TimeSpan.FromSeconds(1), None)).Should().BeEmpty("a locked row is skipped, not waited for");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1.5), "the declarer does not wait for the lock");

        // The server ends the idle transaction after IdleInTransactionTimeout; the next round declares the silo dead.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        IReadOnlyList<string> declared;
        do
        {
            await Task.Delay(250);
            declared = await table.DeclareStaleSilosDeadAsync(TimeSpan.FromSeconds(1), None);
        }
        while (declared.Count == 0 && DateTime.UtcNow < deadline);
        declared.Should().Equal("cut-off");
    }
}
