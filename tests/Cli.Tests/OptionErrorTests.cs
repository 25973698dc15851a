using FluentAssertions;
using Qwen.Cli.Tests.Support;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary>Bad options and unreachable servers end with one <c>error:</c> line and exit code 2.</summary>
public sealed class OptionErrorTests
{
    [Theory]
    [InlineData("load")]
    [InlineData("load", "--url", "localhost:5000")]
    [InlineData("load", "--url", "ftp://localhost:5000")]
    [InlineData("load", "--url", "http://localhost:5000", "--levels", "0")]
    [InlineData("load", "--url", "http://localhost:5000", "--levels", "2,x")]
    [InlineData("load", "--url", "http://localhost:5000", "--duration", "soon")]
    [InlineData("load", "--url", "http://localhost:5000", "--duration", "-5s")]
    [InlineData("load", "--url", "http://localhost:5000", "--mix", "sentiment=1,poetry=1")]
    [InlineData("load", "--url", "http://localhost:5000", "--mix", "sentiment=0,chat=0")]
    [InlineData("load", "--url", "http://localhost:5000", "--no-such-option")]
    [InlineData("bench-serve")]
    [InlineData("bench-serve", "--model", "/nonexistent/model")]
    [InlineData("bench-serve", "--model", "/tmp", "--requests", "0")]
    [InlineData("bench-serve", "--model", "/tmp", "--levels", "1,-2")]
    [InlineData("bench-serve", "--model", "/tmp", "--soak", "forever")]
    [InlineData("bench-serve", "--model", "/tmp", "--max-new-tokens", "100000")]
    [InlineData("bench-serve", "--model", "/tmp", "--json", "/nonexistent/dir/out.json")]
    [InlineData("bench-serve", "--model", "/tmp", "--modes", "turbo")]
    [InlineData("build-model", "--out", "/tmp/qwen-never-built", "--prompt-lanes", "17")]
    [InlineData("build-model", "--out", "/tmp/qwen-never-built", "--prompt-lanes", "-1")]
    [InlineData("build-model", "--out", "/tmp/qwen-never-built", "--kv-dtype", "int4")]
    [InlineData("build-model", "--out", "/tmp/qwen-never-built", "--kv-dtype", "int8", "--kv-layout", "standard")]
    public async Task Bad_options_exit_with_code_2(params string[] args)
    {
        var run = await CommandRun.QwenAsync(args);

        run.ExitCode.Should().Be(CliApp.UsageError, run.ToString());
        run.Errors.Should().StartWith("error: ");
        run.Errors.Should().NotContain("   at ", "a message, not a stack trace");
    }

    [Fact]
    public async Task An_unreachable_url_is_named()
    {
        string url = $"http://127.0.0.1:{FreePort.Next()}";
        var run = await CommandRun.QwenAsync("load", "--url", url, "--duration", "1s");

        run.ExitCode.Should().Be(CliApp.UsageError, run.ToString());
        run.Errors.Should().StartWith($"error: cannot reach {url}/");
    }

    [Fact]
    public async Task A_directory_that_is_not_a_model_is_refused()
    {
        string dir = Directory.CreateTempSubdirectory("qwen-not-a-model-").FullName;
        try
        {
            var run = await CommandRun.QwenAsync("bench-serve", "--model", dir, "--levels", "1", "--requests", "1");
            run.ExitCode.Should().Be(CliApp.UsageError, run.ToString());
            run.Errors.Should().Contain("error: ");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
