using System.Text.Json;
using FluentAssertions;
using Qwen.Cli.Tests.Support;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary>
/// <c>qwen build-model --prompt-lanes</c> and <c>--kv-dtype int8</c>, run as the real tool: the
/// model it writes has the lanes (or the int8 cache), runs, and serves with them.
/// </summary>
public sealed class BuildModelTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"qwen-lanes-{Guid.NewGuid():N}");

    [Fact]
    public async Task A_model_built_with_prompt_lanes_has_them_and_runs()
    {
        var build = await CommandRun.QwenAsync("build-model", "--preset", "tiny", "--prompt-lanes", "2", "--quiet", "--out", _dir);
        build.ExitCode.Should().Be(0, build.ToString());

        using var session = Qwen.Inference.Engine.DecoderSession.Open(_dir);
        session.PromptLanes.Should().Be(2);
        session.Io.Lanes.Select(l => l.InputIds).Should().Equal("lanes.0.input_ids", "lanes.1.input_ids");

        string json = Path.Combine(_dir, "bench.json");
        var bench = await CommandRun.QwenAsync("bench-engine", "--model", _dir, "--batches", "1,3", "--prompt-lengths", "8", "--decode-steps", "2",
            "--json", json);
        bench.ExitCode.Should().Be(0, bench.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        report.RootElement.GetProperty("decode").EnumerateArray().Select(d => d.GetProperty("batch").GetInt32()).Should().Equal(1, 3);

        // Served: prompts go beside the decode rows, and no request fails.
        string served = Path.Combine(_dir, "serve.json");
        var serve = await CommandRun.QwenAsync("bench-serve", "--model", _dir, "--levels", "4", "--requests", "12", "--modes", "batched",
            "--max-new-tokens", "8", "--json", served);
        serve.ExitCode.Should().Be(0, serve.ToString());
        using var serveReport = JsonDocument.Parse(await File.ReadAllTextAsync(served));
        var row = serveReport.RootElement.GetProperty("rows").EnumerateArray().Single();
        row.GetProperty("errors").GetInt32().Should().Be(0);
        row.GetProperty("prefill_in_decode_calls").GetDouble().Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task A_model_built_with_an_int8_kv_cache_has_one_and_serves()
    {
        var build = await CommandRun.QwenAsync("build-model", "--preset", "tiny", "--kv-dtype", "int8", "--quiet", "--out", _dir);
        build.ExitCode.Should().Be(0, build.ToString());

        using (var session = Qwen.Inference.Engine.DecoderSession.Open(_dir))
        {
            session.Io.KvType.Should().Be(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int8);
        }
        string served = Path.Combine(_dir, "serve.json");
        var serve = await CommandRun.QwenAsync("bench-serve", "--model", _dir, "--levels", "4", "--requests", "12", "--modes", "batched",
            "--max-new-tokens", "8", "--json", served);
        serve.ExitCode.Should().Be(0, serve.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(served));
        report.RootElement.GetProperty("rows").EnumerateArray().Single().GetProperty("errors").GetInt32().Should().Be(0);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
