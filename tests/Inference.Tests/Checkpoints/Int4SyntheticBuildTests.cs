using FluentAssertions;
using Qwen.Cli;
using Qwen.Inference.Engine;
using Qwen.Inference.Models;
using Qwen.Inference.Reference;
using Xunit;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// <c>qwen build-model --dtype int4</c> for synthetic shapes, including input dimensions that
/// are not a multiple of the 32-wide quantization block (the last block is zero-padded).
/// </summary>
public sealed class Int4SyntheticBuildTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("qwen-int4-").FullName;

    [Theory]
    [InlineData(64, 128)]  // whole blocks
    [InlineData(48, 80)]   // hidden 48 = 1.5 blocks, intermediate 80 = 2.5 blocks
    public async Task Int4_build_computes_the_int4_weight_model(int hidden, int intermediate)
    {
        var config = new QwenConfig
        {
            HiddenSize = hidden, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
            IntermediateSize = intermediate, VocabSize = 2048, MaxPositionEmbeddings = 256,
        };
        string configPath = Path.Combine(_root, "config.json");
        await File.WriteAllTextAsync(configPath, config.ToJson());
        string model = Path.Combine(_root, "model");
        int exit = await CliApp.RunAsync(["build-model", "--config", configPath, "--weights", "random", "--seed", "9", "--dtype", "int4", "--out", model, "--quiet"]);
        exit.Should().Be(0);

        var reference = new ReferenceQwen2(config, new Int4RoundedWeights(new HashWeightSource(config, 9), config));
        using var session = DecoderSession.Open(model);
        foreach (int[] prompt in new[] { RandomIds(1, 7, 2048), RandomIds(2, 1, 2048) })
        {
            float[][] logits = ConverterGoldenTests.AllLogits(session, prompt);
            float[][] expected = reference.Forward(prompt);
            for (int t = 0; t < logits.Length; t++)
                MaxAbsDiff(logits[t], expected[t]).Should().BeLessThan(QuantizedConversionTests.Int4ActivationBound, $"position {t}");
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
