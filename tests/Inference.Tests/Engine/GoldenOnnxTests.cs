using Xunit;
using FluentAssertions;
using Qwen.Cli;
using Qwen.Inference.Engine;
using Qwen.Inference.Tests.Golden;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Engine;

/// <summary>
/// The ONNX graph against logits computed outside this project: a model built by
/// <c>qwen build-model --config FILE --weights hash</c> must reproduce the golden file.
/// </summary>
public sealed class GoldenOnnxTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qwen-golden-").FullName;

    [Theory]
    [InlineData("standard")]
    [InlineData("shared-buffer")]
    public async Task Model_built_from_the_golden_config_reproduces_the_golden_logits(string kvLayout)
    {
        string configPath = Path.Combine(_dir, "config.json");
        await File.WriteAllTextAsync(configPath, GoldenCases.ConfigJson);
        string modelDir = Path.Combine(_dir, "model");
        int exit = await CliApp.RunAsync(["build-model", "--config", configPath, "--weights", "hash", "--dtype", "fp32", "--out", modelDir, "--kv-layout", kvLayout, "--quiet"]);
        exit.Should().Be(0);

        using var session = DecoderSession.Open(modelDir);
        foreach (var golden in GoldenCases.All)
        {
            using var cache = session.CreateCache(1);
            using var logits = ReferenceAgreementTests.Prefill(session, golden.InputIds, cache, keep: 0);
            for (int t = 0; t < golden.InputIds.Length; t++)
                ArgMax(logits.Row(0, t)).Should().Be(golden.ArgmaxPerPosition[t], $"argmax at position {t}");
            var last = logits.Last(0);
            foreach (var (id, value) in golden.LastLogits)
                ((double)last[id]).Should().BeApproximately(value, GoldenCases.Tolerance, $"logit of token {id}");
            LogSumExp(last).Should().BeApproximately(golden.LastLogSumExp, GoldenCases.Tolerance);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
