using FluentAssertions;
using Npgsql;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Silo.Tests.Storage.Postgres;

/// <summary>The private test server itself: it survives stop/restart with its data and leaves nothing behind.</summary>
public sealed class PostgresServerTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Stop_and_restart_keep_committed_data_and_dispose_removes_server_and_directory()
    {
        PostgresServer server = await PostgresServer.StartNewAsync(None);
        string dataDirectory = server.DataDirectory;
        try
        {
            server.Host.Should().Be("127.0.0.1");
            await ExecuteAsync(server.ConnectionString, "CREATE TABLE kept (id integer); INSERT INTO kept VALUES (42)");

            await server.StopAsync(None);
            server.IsRunning.Should().BeFalse();
            await FluentActions.Invoking(() => ExecuteAsync(server.ConnectionString, "SELECT 1")).Should().ThrowAsync<NpgsqlException>();

            await server.RestartAsync(None);
            (await ExecuteAsync(server.ConnectionString, "SELECT id FROM kept")).Should().Be(42);
        }
        finally
        {
            await server.DisposeAsync();
        }

        Directory.Exists(Path.GetDirectoryName(dataDirectory)).Should().BeFalse();
        await FluentActions.Invoking(() => ExecuteAsync(server.ConnectionString, "SELECT 1")).Should().ThrowAsync<NpgsqlException>();
    }

    private static async Task<object?> ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
