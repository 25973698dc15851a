using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Postgres;
using Qwen.Cluster.Schema;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Cluster.Tests.Postgres;

/// <summary>PostgreSQL going away mid-run and coming back, on a server of this class's own.</summary>
public sealed class MembershipOutageTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;

    private PostgresServer server = null!;
    private NpgsqlDataSource dataSource = null!;
    private PostgresMembershipTable table = null!;

    public async Task InitializeAsync()
    {
        server = await PostgresServer.StartNewAsync(None);
        dataSource = NpgsqlDataSource.Create(server.ConnectionString);
        await new PostgresSchemaMigrator(dataSource, [MembershipSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance).MigrateAsync(None);
        table = new PostgresMembershipTable(dataSource, NullLogger<PostgresMembershipTable>.Instance);
    }

    public async Task DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Calls_fail_clearly_while_the_server_is_down_and_work_again_after_it_restarts()
    {
        await table.RegisterAsync(new SiloRecord("silo-a", "http://10.0.0.1:7101", SiloStatus.Active, SiloLoad.Idle, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow), None);

        await server.StopAsync(None);
        await table.Invoking(t => t.HeartbeatAsync("silo-a", SiloLoad.Idle, None))
            .Should().ThrowAsync<PostgresUnavailableException>().WithMessage($"*127.0.0.1:{server.Port}*");
        await table.Invoking(t => t.DeclareStaleSilosDeadAsync(TimeSpan.FromSeconds(10), None))
            .Should().ThrowAsync<PostgresUnavailableException>();

        await server.RestartAsync(None);
        await table.HeartbeatAsync("silo-a", new SiloLoad(1, 0, 0, 0, true), None);
        (await table.ReadAllAsync(None)).Should().ContainSingle().Which.Load.ModelLoaded.Should().BeTrue();
    }

    [Fact]
    public async Task Pooled_connections_that_died_while_idle_are_replaced_without_an_error()
    {
        await table.RegisterAsync(new SiloRecord("silo-a", "http://10.0.0.1:7101", SiloStatus.Active, SiloLoad.Idle, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow), None);

        await server.RestartAsync(None);

        (await table.ReadAllAsync(None)).Should().ContainSingle();
    }
}
