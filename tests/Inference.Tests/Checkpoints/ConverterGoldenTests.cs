using FluentAssertions;
using Qwen.Inference.Engine;
using Qwen.Inference.Models;
using Qwen.Inference.Reference;
using Qwen.Inference.Tests.Engine;
using Qwen.Inference.Tests.Golden;
using Xunit;
using Xunit.Abstractions;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// <c>qwen build-model --from-hf</c> on the golden hash-rule weights written as Hugging Face
/// checkpoints (fp32, bf16, fp16; one file and sharded with an index), against the golden
/// logits computed outside this project.
/// </summary>
[Collection(GoldenCheckpointCollection.Name)]
public sealed class ConverterGoldenTests(GoldenCheckpoints checkpoints, ITestOutputHelper output)
{
    /// <summary>
    /// How far the bf16 checkpoint's logits may sit from the golden (fp32-weight) logits:
    /// rounding every weight to 8 significant bits moves them by up to this much.
    /// </summary>
    public const double Bf16Bound = 0.05;

    [Theory]
    [InlineData(CheckpointStorage.Single)]
    [InlineData(CheckpointStorage.Sharded)]
    public void Fp32_checkpoint_converts_to_the_golden_logits(CheckpointStorage storage)
    {
        using var session = DecoderSession.Open(checkpoints.Converted("F32", storage, "fp32"));
        foreach (var golden in GoldenCases.All)
        {
            float[][] logits = AllLogits(session, golden.InputIds);
            for (int t = 0; t < logits.Length; t++)
                ArgMax(logits[t]).Should().Be(golden.ArgmaxPerPosition[t], $"argmax at position {t}");
            foreach (var (id, value) in golden.LastLogits)
                ((double)logits[^1][id]).Should().BeApproximately(value, GoldenCases.Tolerance, $"logit of token {id}");
            LogSumExp(logits[^1]).Should().BeApproximately(golden.LastLogSumExp, GoldenCases.Tolerance);
        }
    }

    [Theory]
    [InlineData(CheckpointStorage.Single)]
    [InlineData(CheckpointStorage.Sharded)]
    public void Bf16_checkpoint_converts_within_the_bf16_bound_of_the_golden_logits(CheckpointStorage storage)
    {
        using var session = DecoderSession.Open(checkpoints.Converted("BF16", storage, "fp32"));
        var rounded = new ReferenceQwen2(GoldenCases.Config, new RoundedWeights(GoldenCheckpoints.GoldenWeights, "BF16"));
        double worst = 0;
        foreach (var golden in GoldenCases.All)
        {
            float[][] logits = AllLogits(session, golden.InputIds);
            foreach (var (id, value) in golden.LastLogits) worst = Math.Max(worst, Math.Abs(logits[^1][id] - value));
            worst = Math.Max(worst, Math.Abs(LogSumExp(logits[^1]) - golden.LastLogSumExp));
            // Exactly the bf16 model: the reference fed the same rounded weights agrees to fp32 accuracy.
            float[][] expected = rounded.Forward(golden.InputIds);
            for (int t = 0; t < logits.Length; t++)
                MaxAbsDiff(logits[t], expected[t]).Should().BeLessThan((float)GoldenCases.Tolerance, $"position {t} against the bf16-weight reference");
        }
        output.WriteLine($"bf16 {storage}: worst |logit - golden| = {worst:F4}");
        worst.Should().BeLessThan(Bf16Bound);
    }

    [Fact]
    public void Fp16_checkpoint_converts_to_exactly_the_fp16_weight_model()
    {
        using var session = DecoderSession.Open(checkpoints.Converted("F16", CheckpointStorage.Single, "fp32"));
        var rounded = new ReferenceQwen2(GoldenCases.Config, new RoundedWeights(GoldenCheckpoints.GoldenWeights, "F16"));
        foreach (var golden in GoldenCases.All)
        {
            float[][] logits = AllLogits(session, golden.InputIds);
            float[][] expected = rounded.Forward(golden.InputIds);
            for (int t = 0; t < logits.Length; t++)
                MaxAbsDiff(logits[t], expected[t]).Should().BeLessThan((float)GoldenCases.Tolerance, $"position {t}");
        }
    }

    [Fact]
    public async Task Converted_directory_carries_the_checkpoints_config_and_tokenizer_files()
    {
        string checkpoint = checkpoints.Checkpoint("F32", CheckpointStorage.Sharded);
        string dir = checkpoints.Converted("F32", CheckpointStorage.Sharded, "fp32");
        foreach (string file in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            File.ReadAllBytes(Path.Combine(dir, file)).Should().Equal(File.ReadAllBytes(Path.Combine(checkpoint, file)), file);
        File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")).Should().Contain(HuggingFaceCheckpointWriter.TokenizerConfigMarker);
        var model = ModelDirectory.Open(dir);
        model.EosTokenIds.Should().Equal(HuggingFaceCheckpointWriter.GenerationEosIds);
        model.Config.Should().BeEquivalentTo(QwenConfig.Load(Path.Combine(checkpoint, "config.json")));
        // The whole directory serves: tokenizer, chat template, decoder.
        int exit = await Qwen.Cli.CliApp.RunAsync(["generate", "--model", dir, "--prompt", "Hello", "--max-new-tokens", "3"]);
        exit.Should().Be(0);
    }

    internal static float[][] AllLogits(DecoderSession session, int[] ids)
    {
        using var cache = session.CreateCache(1);
        using var logits = ReferenceAgreementTests.Prefill(session, ids, cache, keep: 0);
        return Enumerable.Range(0, ids.Length).Select(t => logits.Row(0, t).ToArray()).ToArray();
    }
}
