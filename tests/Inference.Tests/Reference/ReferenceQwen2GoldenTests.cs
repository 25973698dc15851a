using FluentAssertions;
using Qwen.Inference.Models;
using Qwen.Inference.Reference;
using Qwen.Inference.Tests.Golden;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Inference.Tests.Reference;

public sealed class ReferenceQwen2GoldenTests(ITestOutputHelper output)
{
    // Building the model fills ~10 M embedding values; share one instance across the cases.
    private static readonly Lazy<ReferenceQwen2> Model =
        new(() => new ReferenceQwen2(GoldenCases.Config, new HashWeightSource(GoldenCases.Config, 0)));

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < GoldenCases.All.Count; i++) data.Add(i);
        return data;
    }

    [Fact]
    public void Golden_file_has_the_tiny_config()
    {
        GoldenCases.All.Should().NotBeEmpty();
        GoldenCases.Config.Should().BeEquivalentTo(QwenConfig.Tiny);
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Forward_matches_golden(int index)
    {
        GoldenCase golden = GoldenCases.All[index];
        float[][] logits = Model.Value.Forward(golden.InputIds);

        logits.Should().HaveCount(golden.InputIds.Length);
        int[] argmax = logits.Select(ArgMax).ToArray();
        argmax.Should().Equal(golden.ArgmaxPerPosition);

        float[] last = logits[^1];
        double maxDiff = 0;
        foreach ((int token, float expected) in golden.LastLogits)
        {
            double diff = Math.Abs(last[token] - expected);
            maxDiff = Math.Max(maxDiff, diff);
            diff.Should().BeLessThanOrEqualTo(GoldenCases.Tolerance, $"logit of token {token}");
        }

        double lse = LogSumExp(last);
        double lseDiff = Math.Abs(lse - golden.LastLogSumExp);
        lseDiff.Should().BeLessThanOrEqualTo(GoldenCases.Tolerance, "last log-sum-exp");

        output.WriteLine($"case {index}: max |logit diff| {maxDiff:E2}, |logsumexp diff| {lseDiff:E2}");
    }

    [Fact]
    public void LastLogits_equals_last_row_of_Forward()
    {
        int[] ids = GoldenCases.All[0].InputIds;
        Model.Value.LastLogits(ids).Should().Equal(Model.Value.Forward(ids)[^1]);
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    private static double LogSumExp(float[] values)
    {
        double max = values.Max();
        double sum = 0;
        foreach (float v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
