using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Silo.Storage;
using Qwen.Silo.Storage.Postgres;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Silo.Tests.Storage.Postgres;

/// <summary>No server at the configured address: every operation says which server it could not reach.</summary>
public sealed class UnreachableDatabaseTests : IAsyncDisposable
{
    private readonly int port = FreePort.Next();
    private readonly NpgsqlDataSource dataSource;

    public UnreachableDatabaseTests()
    {
        dataSource = PostgresDataSourceFactory.Create(new PostgresOptions
        {
            ConnectionString = $"Host=127.0.0.1;Port={port};Database=qwen;Username=qwen;Password=secret-word;Timeout=3",
        });
    }

    [Fact]
    public async Task Work_fails_with_a_message_naming_host_port_and_database_but_no_password()
    {
        var executor = new PostgresExecutor(dataSource, (message, server, e) => new PostgresUnavailableException(message, server, e));

        var failure = await executor.Invoking(x => x.RunAsync<int>((_, _) => Task.FromResult(1), CancellationToken.None))
            .Should().ThrowAsync<PostgresUnavailableException>();

        failure.Which.Message.Should().Contain($"127.0.0.1:{port}").And.Contain("database 'qwen'").And.Contain("unreachable")
            .And.NotContain("secret-word");
        failure.Which.Server.Should().Be($"127.0.0.1:{port}, database 'qwen'");
        failure.Which.InnerException.Should().BeAssignableTo<NpgsqlException>();
        executor.Server.Should().Be($"127.0.0.1:{port}, database 'qwen'");
    }

    [Fact]
    public async Task Migration_at_start_fails_with_the_same_clear_error()
    {
        var migrator = new PostgresSchemaMigrator(dataSource, [ConversationSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance);

        await migrator.Invoking(m => m.MigrateAsync(CancellationToken.None))
            .Should().ThrowAsync<PostgresUnavailableException>().WithMessage($"PostgreSQL at 127.0.0.1:{port}*unreachable*");
    }

    [Fact]
    public void Missing_or_malformed_connection_strings_are_reported_by_their_configuration_key()
    {
        FluentActions.Invoking(() => PostgresDataSourceFactory.Create(new PostgresOptions()))
            .Should().Throw<InvalidOperationException>().WithMessage("Postgres:ConnectionString is not set");
        FluentActions.Invoking(() => PostgresDataSourceFactory.Create(new PostgresOptions { ConnectionString = "Hostess=x" }))
            .Should().Throw<InvalidOperationException>().WithMessage("Postgres:ConnectionString is malformed*");
    }

    [Fact]
    public void The_command_timeout_option_reaches_the_connection_string()
    {
        using NpgsqlDataSource configured = PostgresDataSourceFactory.Create(new PostgresOptions
        {
            ConnectionString = "Host=db.internal;Database=qwen",
            CommandTimeout = TimeSpan.FromSeconds(2.5),
        });

        new NpgsqlConnectionStringBuilder(configured.ConnectionString).CommandTimeout.Should().Be(3);
    }

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
