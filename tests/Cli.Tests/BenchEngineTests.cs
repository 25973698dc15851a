using System.Text.Json;
using FluentAssertions;
using Qwen.Cli.Tests.Support;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary><c>qwen bench-engine</c> on the tiny model, run as the real tool: the decode rows' cached context is what was asked for.</summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class BenchEngineTests(EmbeddedApiFixture fixture) : IDisposable
{
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"qwen-bench-engine-{Guid.NewGuid():N}.json");

    [Fact]
    public async Task Decode_rows_start_from_the_context_asked_for_and_the_report_says_so()
    {
        var run = await CommandRun.QwenAsync("bench-engine", "--model", fixture.ModelDirectory, "--batches", "1,3", "--prompt-lengths", "8",
            "--decode-steps", "4", "--decode-context", "40", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("decode batch 3 at 40 cached");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        json.RootElement.GetProperty("decode_context").GetInt32().Should().Be(40);
        json.RootElement.GetProperty("decode").EnumerateArray().Select(d => d.GetProperty("batch").GetInt32()).Should().Equal(1, 3);
    }

    [Fact]
    public async Task A_decode_context_below_two_is_refused_in_words()
    {
        var run = await CommandRun.QwenAsync("bench-engine", "--model", fixture.ModelDirectory, "--decode-context", "1");

        run.ExitCode.Should().NotBe(0);
        run.ToString().Should().Contain("--decode-context must be at least 2");
    }

    public void Dispose() => File.Delete(_json);
}
