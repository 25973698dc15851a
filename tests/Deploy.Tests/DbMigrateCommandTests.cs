using System.Globalization;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary><c>qwen db migrate</c>: what it says without a database and when the server is not there.</summary>
public sealed class DbMigrateCommandTests
{
    [Fact]
    public async Task Without_a_connection_it_says_how_to_give_one()
    {
        var run = await QwenAsync(["db", "migrate"], connectionVariable: null);

        run.ExitCode.Should().Be(2, run.ToString());
        run.Stderr.Should().Contain("error: give the database with --connection").And.Contain("Postgres__ConnectionString");
    }

    [Fact]
    public async Task An_unreachable_server_is_named_with_exit_code_1()
    {
        int port = FreePort.Next();

        var run = await QwenAsync([], connectionVariable: $"Host=127.0.0.1;Port={port.ToString(CultureInfo.InvariantCulture)};Database=qwen;Username=qwen;Timeout=3");

        run.ExitCode.Should().Be(1, run.ToString());
        run.Stderr.Should().Contain($"error: PostgreSQL at 127.0.0.1:{port}, database 'qwen' is unreachable");
    }

    [Fact]
    public async Task A_malformed_connection_string_is_a_usage_error()
    {
        var run = await QwenAsync(["db", "migrate", "--connection", "Hots=db"], connectionVariable: null);

        run.ExitCode.Should().Be(2, run.ToString());
        run.Stderr.Should().Contain("Postgres:ConnectionString is malformed");
    }

    private static Task<ScriptRun> QwenAsync(string[] arguments, string? connectionVariable) =>
        ScriptRun.RunAsync("dotnet",
            [RepositoryPaths.BuiltAssembly("Cli", "qwen.dll"), .. arguments.Length == 0 ? ["db", "migrate"] : arguments],
            new Dictionary<string, string?> { ["Postgres__ConnectionString"] = connectionVariable });
}
