using FluentAssertions;
using Qwen.Inference.Generation;
using Xunit;

namespace Qwen.Inference.Tests.Generation;

public sealed class TokenSamplerTests
{
    private static readonly int[] None = [];

    private static GenerationOptions Sampling(float temperature = 1, int topK = 0, float topP = 1, ulong seed = 1) =>
        new() { DoSample = true, Temperature = temperature, TopK = topK, TopP = topP, Seed = seed };

    private static double[] Probabilities(GenerationOptions options, float[] logits, IReadOnlyCollection<int>? seen = null)
    {
        var probs = new double[logits.Length];
        new TokenSampler(options).ComputeProbabilities(logits, seen ?? None, probs);
        return probs;
    }

    private static double[] Softmax(params double[] x)
    {
        double max = x.Max();
        double[] e = x.Select(v => Math.Exp(v - max)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    private static double[] Frequencies(TokenSampler sampler, float[] logits, int draws)
    {
        var counts = new double[logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Next(logits, None)]++;
        return counts.Select(c => c / draws).ToArray();
    }

    [Fact]
    public void Greedy_picks_the_argmax()
    {
        new TokenSampler(GenerationOptions.Greedy(1)).Next([0.1f, -2, 3.5f, 3.25f], None).Should().Be(2);
    }

    [Fact]
    public void Greedy_ties_go_to_the_lowest_id()
    {
        var sampler = new TokenSampler(GenerationOptions.Greedy(1));
        sampler.Next([1, 5, 5, 2, 5], None).Should().Be(1);
        sampler.Next([-0f, 0f], None).Should().Be(0, "-0 and +0 are equal logits");
        sampler.Next([float.NegativeInfinity, float.NegativeInfinity], None).Should().Be(0);
    }

    [Fact]
    public void Sampling_at_temperature_zero_is_greedy()
    {
        var sampler = new TokenSampler(Sampling(temperature: 0));
        for (int i = 0; i < 20; i++) sampler.Next([1, 2, 2, 0], None).Should().Be(1);
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_in_greedy_mode()
    {
        // 3 / 1.5 = 2 falls below 2.5.
        new TokenSampler(GenerationOptions.Greedy(1) with { RepetitionPenalty = 1.5f }).Next([3, 2.5f, -1], [0]).Should().Be(1);
        // -0.5 * 3 = -1.5 falls below -1.
        new TokenSampler(GenerationOptions.Greedy(1) with { RepetitionPenalty = 3 }).Next([-0.5f, -1, -3], [0]).Should().Be(1);
        // A penalty below 1 favours repeats: -2 * 0.25 = -0.5 beats -1.
        new TokenSampler(GenerationOptions.Greedy(1) with { RepetitionPenalty = 0.25f }).Next([-1, -2], [1]).Should().Be(1);
    }

    [Fact]
    public void Repetition_penalty_applies_once_per_distinct_seen_token()
    {
        // [2, -2, 1, 0.5] with 0 and 1 seen (1 twice) and penalty 2 gives [1, -4, 1, 0.5].
        var options = Sampling() with { RepetitionPenalty = 2 };
        double[] probs = Probabilities(options, [2, -2, 1, 0.5f], [0, 1, 1]);
        probs.Should().Equal(Softmax(1, -4, 1, 0.5), (a, e) => Math.Abs(a - e) < 1e-12);
        Probabilities(options, [2, -2, 1, 0.5f], new List<int> { 1, 0, 0 }).Should().Equal(probs);
        Probabilities(options, [2, -2, 1, 0.5f], new HashSet<int> { 1, 0 }).Should().Equal(probs);
    }

    [Fact]
    public void The_callers_logits_are_not_modified()
    {
        float[] logits = [2, -2, 1, 0.5f];
        var sampler = new TokenSampler(Sampling(temperature: 0.5f, topK: 2, topP: 0.9f) with { RepetitionPenalty = 2 });
        sampler.Next(logits, [0, 1]);
        logits.Should().Equal(2, -2, 1, 0.5f);
    }

    [Fact]
    public void Top_k_1_sampling_equals_greedy()
    {
        var random = new Random(11);
        for (int trial = 0; trial < 300; trial++)
        {
            float[] logits = TokenSamplerReferenceTests.RandomLogits(random, 1000, trial % 2 == 0 ? 0 : 3);
            int[] seen = Enumerable.Range(0, 20).Select(_ => random.Next(1000)).ToArray();
            float penalty = trial % 3 == 0 ? 1 : 1.3f;
            var greedy = new TokenSampler(GenerationOptions.Greedy(1) with { RepetitionPenalty = penalty });
            var topOne = new TokenSampler(Sampling(temperature: 0.5f + trial % 4, topK: 1, seed: (ulong)trial) with { RepetitionPenalty = penalty });
            topOne.Next(logits, seen).Should().Be(greedy.Next(logits, seen), "trial {0}", trial);
        }
    }

    [Fact]
    public void Top_k_keeps_ties_with_the_kth_largest()
    {
        double[] probs = Probabilities(Sampling(topK: 2), [1, 3, 3, 2, 3]);
        probs.Should().Equal([0, 1 / 3.0, 1 / 3.0, 0, 1 / 3.0], (a, e) => Math.Abs(a - e) < 1e-12);
    }

    [Fact]
    public void Top_k_larger_than_the_vocabulary_keeps_everything()
    {
        Probabilities(Sampling(topK: 10), [0, 1, 2]).Should().Equal(Softmax(0, 1, 2), (a, e) => Math.Abs(a - e) < 1e-12);
    }

    [Fact]
    public void Same_seed_gives_the_same_draws_and_different_seeds_differ()
    {
        float[] logits = Enumerable.Range(0, 1000).Select(i => (float)Math.Sin(i)).ToArray();
        int[] Draws(ulong seed)
        {
            var sampler = new TokenSampler(Sampling(topP: 0.95f, seed: seed));
            return Enumerable.Range(0, 200).Select(_ => sampler.Next(logits, None)).ToArray();
        }

        Draws(42).Should().Equal(Draws(42));
        Draws(42).Should().NotEqual(Draws(43));
        Draws(42).Distinct().Count().Should().BeGreaterThan(100, "a near-flat distribution spreads its draws");
    }

    [Fact]
    public void Unseeded_samplers_draw_differently()
    {
        float[] logits = new float[1000];
        int[] Draws()
        {
            var sampler = new TokenSampler(new GenerationOptions { DoSample = true });
            return Enumerable.Range(0, 50).Select(_ => sampler.Next(logits, None)).ToArray();
        }
        Draws().Should().NotEqual(Draws());
    }

    [Theory]
    [InlineData(0.75f, new[] { 0.625, 0.375, 0, 0 })] // ascending cumulative 0.05, 0.2 <= 0.25 removed; 0.5 > 0.25 kept
    [InlineData(0.9f, new[] { 0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0 })] // 0.05 <= 0.1 removed; 0.2 > 0.1 kept
    [InlineData(0.4f, new[] { 1.0, 0, 0, 0 })] // 0.5 alone reaches 0.4
    public void Top_p_keeps_the_minimal_nucleus(float topP, double[] expected)
    {
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        Probabilities(Sampling(topP: topP), logits).Should().Equal(expected, (a, e) => Math.Abs(a - e) < 1e-6);

        double[] frequencies = Frequencies(new TokenSampler(Sampling(topP: topP, seed: 5)), logits, 10_000);
        for (int id = 0; id < 4; id++)
        {
            if (expected[id] == 0) frequencies[id].Should().Be(0, "token {0} is outside the nucleus", id);
            else frequencies[id].Should().BeApproximately(expected[id], 0.02, "token {0}", id);
        }
    }

    [Fact]
    public void Top_p_always_keeps_the_most_probable_token()
    {
        Probabilities(Sampling(topP: 1e-6f), [0, 10, 9.99f]).Should().Equal(0, 1, 0);
    }

    [Fact]
    public void Top_p_breaks_ties_by_lower_id()
    {
        // Four equal tokens: top_p 0.5 needs two of them, and the lower ids count as more probable.
        Probabilities(Sampling(topP: 0.5f), [1, 1, 1, 1]).Should().Equal(0.5, 0.5, 0, 0);
    }

    [Fact]
    public void Temperature_sharpens_below_one_and_flattens_above()
    {
        float[] logits = [2, 1, 0, -1];
        double previousTop = 1;
        foreach (float temperature in new[] { 0.5f, 1, 2 })
        {
            double[] expected = Softmax(logits.Select(l => (double)(l / temperature)).ToArray());
            Probabilities(Sampling(temperature: temperature), logits).Should().Equal(expected, (a, e) => Math.Abs(a - e) < 1e-12);

            double[] frequencies = Frequencies(new TokenSampler(Sampling(temperature: temperature, seed: 9)), logits, 20_000);
            frequencies.Should().Equal(expected, (a, e) => Math.Abs(a - e) < 0.015);
            frequencies[0].Should().BeLessThan(previousTop, "a higher temperature flattens the distribution");
            previousTop = frequencies[0];
        }
    }

    [Fact]
    public void Draws_follow_the_softmax_in_token_id_order()
    {
        // With probs [0.25, 0.75], u < 0.25 picks token 0: the cumulative walk runs in id order.
        float[] logits = [0, MathF.Log(3)];
        var sampler = new TokenSampler(Sampling(seed: 123));
        var random = new SeededRandom(123);
        for (int i = 0; i < 200; i++) sampler.Next(logits, None).Should().Be(random.NextDouble() < 0.25 ? 0 : 1);
    }

    [Fact]
    public void Infinite_logits_sample_uniformly_among_themselves()
    {
        Probabilities(Sampling(), [1, float.PositiveInfinity, 3, float.PositiveInfinity]).Should().Equal(0, 0.5, 0, 0.5);
        Probabilities(Sampling(topP: 0.9f), [float.NegativeInfinity, 0, float.NegativeInfinity]).Should().Equal(0, 1, 0);
    }

    [Fact]
    public void Rejects_unusable_input()
    {
        var sampler = new TokenSampler(Sampling());
        sampler.Invoking(s => s.Next([1, float.NaN], None)).Should().Throw<ArgumentException>().WithMessage("*NaN*index 1*");
        sampler.Invoking(s => s.Next([], None)).Should().Throw<ArgumentException>();
        sampler.Invoking(s => s.Next([1, 2], [2])).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*[0, 2)*");
        sampler.Invoking(s => s.Next([1, 2], [-1])).Should().Throw<ArgumentOutOfRangeException>();
        sampler.Invoking(s => s.Next([float.NegativeInfinity], None)).Should().Throw<ArgumentException>().WithMessage("*-infinity*");
        new TokenSampler(Sampling(temperature: 1e-40f)).Invoking(s => s.Next([-1, -2], None))
            .Should().Throw<ArgumentException>().WithMessage("*-infinity*temperature*");
        new TokenSampler(GenerationOptions.Greedy(1)).Invoking(s => s.Next([float.NaN], None)).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Scratch_buffers_follow_a_changing_vocabulary_size()
    {
        var sampler = new TokenSampler(Sampling(topK: 3, topP: 0.9f));
        var random = new Random(3);
        foreach (int vocab in new[] { 1000, 10, 5000, 1 })
        {
            float[] logits = TokenSamplerReferenceTests.RandomLogits(random, vocab, 0);
            var probs = new double[vocab];
            sampler.ComputeProbabilities(logits, None, probs);
            probs.Should().Equal(ReferenceWarpers.Probabilities(logits, None, sampler.Options), (a, e) => Math.Abs(a - e) < 1e-12);
            sampler.Next(logits, None).Should().BeInRange(0, vocab - 1);
        }
    }
}
