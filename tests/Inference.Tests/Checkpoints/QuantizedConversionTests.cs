using FluentAssertions;
using Qwen.Inference.Engine;
using Qwen.Inference.Reference;
using Qwen.Inference.Tests.Golden;
using Xunit;
using Xunit.Abstractions;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// int8 and int4 conversions of the golden checkpoint. The golden file gives the argmax of every
/// position; the top-two gap of each position comes from the fp32 conversion, which the golden
/// tests hold to 1e-3 of the golden logits. A quantized model must keep the golden argmax
/// wherever that gap is at least the margin of its weight type.
/// </summary>
[Collection(GoldenCheckpointCollection.Name)]
public sealed class QuantizedConversionTests(GoldenCheckpoints checkpoints, ITestOutputHelper output)
{
    /// <summary>
    /// int8 moves this tiny model's logits by at most ~0.26 (any token) and its argmax flips
    /// only at golden gaps below 0.05 (three positions: gaps 0.007, 0.035, 0.048); 0.15 is three
    /// times that. 23 of the 34 golden positions have a gap of at least 0.15.
    /// </summary>
    public const float Int8Margin = 0.15f;

    /// <summary>
    /// int4 weights (16 levels per block of 32) move the logits of this random, untrained 64-wide
    /// model by up to ~2.8, so only the widest golden gaps survive: 0.8 selects two positions
    /// (the 11-token case at position 4, gap 0.93; the 16-token case at position 11, gap 0.81).
    /// The 16-token case's last position (gap 0.78) does flip under int4. That int4 computes
    /// exactly what its weights mean is shown against the int4-weight reference below.
    /// </summary>
    public const float Int4Margin = 0.8f;

    /// <summary>int4 against the reference fed the same int4-rounded weights: what remains is MatMulNBits' int8 activations.</summary>
    public const float Int4ActivationBound = 0.25f;

    [Theory]
    [InlineData("int8", Int8Margin, 20)]
    [InlineData("int4", Int4Margin, 2)]
    public void Quantized_conversion_keeps_the_golden_argmax_where_the_top_two_are_well_separated(string weightType, float margin, int minimumCases)
    {
        using var fp32 = DecoderSession.Open(checkpoints.Converted("F32", CheckpointStorage.Single, "fp32"));
        using var quantized = DecoderSession.Open(checkpoints.Converted("F32", CheckpointStorage.Sharded, weightType));
        int checkedCases = 0;
        foreach (var golden in GoldenCases.All)
        {
            float[][] exact = ConverterGoldenTests.AllLogits(fp32, golden.InputIds);
            float[][] q = ConverterGoldenTests.AllLogits(quantized, golden.InputIds);
            for (int t = 0; t < exact.Length; t++)
            {
                int top = ArgMax(exact[t]);
                top.Should().Be(golden.ArgmaxPerPosition[t]);
                float gap = exact[t][top] - exact[t].Where((_, i) => i != top).Max();
                if (gap < margin) continue;
                checkedCases++;
                ArgMax(q[t]).Should().Be(golden.ArgmaxPerPosition[t],
                    $"{weightType}: {golden.InputIds.Length}-token case, position {t}, golden gap {gap:F3}");
            }
        }
        output.WriteLine($"{weightType}: golden argmax kept at all {checkedCases} positions with a top-two gap >= {margin}");
        checkedCases.Should().BeGreaterThanOrEqualTo(minimumCases);
    }

    [Fact]
    public void Int4_conversion_computes_the_int4_weight_model()
    {
        using var quantized = DecoderSession.Open(checkpoints.Converted("BF16", CheckpointStorage.Sharded, "int4"));
        // Quantizing the bf16-rounded weights, as the conversion of a bf16 checkpoint does.
        var reference = new ReferenceQwen2(GoldenCases.Config,
            new Int4RoundedWeights(new RoundedWeights(GoldenCheckpoints.GoldenWeights, "BF16"), GoldenCases.Config));
        float worst = 0;
        foreach (var golden in GoldenCases.All)
        {
            float[][] q = ConverterGoldenTests.AllLogits(quantized, golden.InputIds);
            float[][] expected = reference.Forward(golden.InputIds);
            for (int t = 0; t < q.Length; t++) worst = Math.Max(worst, MaxAbsDiff(q[t], expected[t]));
        }
        output.WriteLine($"int4 vs int4-weight reference: worst |logit difference| = {worst:F3}");
        worst.Should().BeLessThan(Int4ActivationBound);
    }
}
