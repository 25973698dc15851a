using FluentAssertions;
using Qwen.Inference.Generation;
using Xunit;

namespace Qwen.Inference.Tests.Generation;

/// <summary>The fast sampler's final distribution equals the straightforward reference pipeline.</summary>
public sealed class TokenSamplerReferenceTests
{
    private static readonly int[] TopKs = [0, 0, 0, 1, 2, 5, 20, 50, 200, 999, 1000, 5000];
    private static readonly float[] TopPs = [1, 1, 0.05f, 0.3f, 0.5f, 0.8f, 0.9f, 0.95f, 0.99f, 0.999f];
    private static readonly float[] Temperatures = [1, 1, 0.3f, 0.7f, 1.3f, 2, 5];
    private static readonly float[] Penalties = [1, 1, 1.05f, 1.3f, 0.7f];

    [Fact]
    public void Matches_the_reference_for_random_logits_and_options()
    {
        var random = new Random(20240601);
        for (int trial = 0; trial < 200; trial++)
        {
            float[] logits = RandomLogits(random, 1000, trial % 5);
            int[] seen = Enumerable.Range(0, random.Next(0, 60)).Select(_ => random.Next(1000)).ToArray();
            var options = new GenerationOptions
            {
                DoSample = random.Next(10) != 0,
                Temperature = random.Next(8) == 0 ? (float)(0.2 + 3 * random.NextDouble()) : Pick(random, Temperatures),
                TopK = Pick(random, TopKs),
                TopP = random.Next(8) == 0 ? (float)random.NextDouble() + 1e-3f : Pick(random, TopPs),
                RepetitionPenalty = Pick(random, Penalties),
            };
            AssertMatches(logits, seen, options, $"trial {trial}: {options}");
        }
    }

    [Fact]
    public void Matches_the_reference_at_the_full_qwen_vocabulary()
    {
        var random = new Random(7);
        GenerationOptions[] cases =
        [
            new() { DoSample = true, Temperature = 0.7f, TopK = 20, TopP = 0.8f, RepetitionPenalty = 1.05f },
            new() { DoSample = true, TopP = 0.9f },
            new() { DoSample = true, Temperature = 3, TopP = 0.95f },
            new() { DoSample = true, TopK = 40_000 },
        ];
        for (int c = 0; c < cases.Length; c++)
        {
            float[] logits = RandomLogits(random, 151_936, c);
            int[] seen = Enumerable.Range(0, 300).Select(_ => random.Next(151_936)).ToArray();
            AssertMatches(logits, seen, cases[c], cases[c].ToString());
        }
    }

    private static void AssertMatches(float[] logits, int[] seen, GenerationOptions options, string because)
    {
        float[] original = (float[])logits.Clone();
        double[] expected = ReferenceWarpers.Probabilities(logits, seen, options);
        var actual = new double[logits.Length];
        new TokenSampler(options).ComputeProbabilities(logits, seen, actual);

        logits.Should().Equal(original, "the caller's logits are read-only");
        actual.Select(p => p > 0).Should().Equal(expected.Select(p => p > 0), "the kept set must match ({0})", because);
        for (int i = 0; i < actual.Length; i++)
            actual[i].Should().BeApproximately(expected[i], 1e-12, "token {0} ({1})", i, because);
    }

    /// <summary>Kinds: spread, ties from coarse rounding, masked (-inf) tokens, one dominant token, narrow spread.</summary>
    internal static float[] RandomLogits(Random random, int vocab, int kind)
    {
        double scale = 1 + 9 * random.NextDouble();
        var logits = new float[vocab];
        for (int i = 0; i < vocab; i++) logits[i] = (float)(Gaussian(random) * scale);
        switch (kind)
        {
            case 1:
                for (int i = 0; i < vocab; i++) logits[i] = MathF.Round(logits[i] * 2) / 2;
                break;
            case 2:
                for (int i = 0; i < vocab; i += 1 + random.Next(4)) logits[i] = float.NegativeInfinity;
                break;
            case 3:
                logits[random.Next(vocab)] += 40;
                break;
            case 4:
                for (int i = 0; i < vocab; i++) logits[i] *= 0.05f;
                break;
        }
        return logits;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static T Pick<T>(Random random, T[] values) => values[random.Next(values.Length)];
}
