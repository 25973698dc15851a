using System.Text.Json.Nodes;
using FluentAssertions;
using Qwen.Cli;
using Qwen.Inference.Engine;
using Qwen.Inference.Models;
using Qwen.Inference.Reference;
using Qwen.Inference.Tests.Golden;
using Xunit;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// A checkpoint with <c>tie_word_embeddings: false</c> carries its own <c>lm_head.weight</c>;
/// the converted graph must multiply by it, not by the embedding.
/// </summary>
public sealed class UntiedLmHeadTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("qwen-hf-untied-").FullName;

    /// <summary>The golden shape with a smaller vocabulary (a separate lm_head doubles the largest tensor) and no tying.</summary>
    private static readonly string UntiedConfigJson = WithFields(GoldenCases.ConfigJson, ("vocab_size", 4096), ("tie_word_embeddings", false));

    private static readonly QwenConfig UntiedConfig = QwenConfig.Parse(UntiedConfigJson);

    private static readonly int[][] Prompts = [RandomIds(11, 9, 4096), RandomIds(12, 1, 4096), RandomIds(13, 17, 4096)];

    [Theory]
    [InlineData("fp32", 1e-3f)]
    [InlineData("int8", ReferenceAgreementBounds.Int8)]
    [InlineData("int4", QuantizedConversionTests.Int4ActivationBound)]
    public async Task Converted_untied_model_uses_lm_head_weight(string weightType, float bound)
    {
        string checkpoint = Path.Combine(_root, "hf");
        var weights = new HashWeightSource(UntiedConfig, 0);
        HuggingFaceCheckpointWriter.Write(checkpoint, UntiedConfigJson, weights, "BF16", CheckpointStorage.Sharded);
        string model = Path.Combine(_root, weightType);
        int exit = await CliApp.RunAsync(["build-model", "--from-hf", checkpoint, "--dtype", weightType, "--out", model, "--quiet"]);
        exit.Should().Be(0);

        IWeightSource stored = new RoundedWeights(weights, "BF16");
        if (weightType == "int4") stored = new Int4RoundedWeights(stored, UntiedConfig);
        var untied = new ReferenceQwen2(UntiedConfig, stored);
        // The same weights read as a tied model: what a graph that ignored lm_head.weight would compute.
        var tied = new ReferenceQwen2(UntiedConfig with { TieWordEmbeddings = true }, stored);

        using var session = DecoderSession.Open(model);
        foreach (int[] prompt in Prompts)
        {
            float[][] logits = ConverterGoldenTests.AllLogits(session, prompt);
            float[][] expected = untied.Forward(prompt);
            float[][] wrong = tied.Forward(prompt);
            for (int t = 0; t < logits.Length; t++)
            {
                MaxAbsDiff(logits[t], expected[t]).Should().BeLessThan(bound, $"{weightType} position {t} against the untied reference");
                MaxAbsDiff(logits[t], wrong[t]).Should().BeGreaterThan(1f, "the tied reading would give other logits");
            }
        }
    }

    private static string WithFields(string json, params (string Name, JsonNode Value)[] fields)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        foreach (var (name, value) in fields) node[name] = value;
        return node.ToJsonString();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

/// <summary>Bounds on quantized logits against a reference computed with the unquantized weights.</summary>
internal static class ReferenceAgreementBounds
{
    /// <summary>The tiny int8 models' bound, as the engine tests hold it.</summary>
    public const float Int8 = Qwen.Inference.Tests.Engine.ReferenceAgreementTests.Int8MaxBound;
}
