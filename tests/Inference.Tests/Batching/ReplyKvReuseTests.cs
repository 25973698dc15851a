using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using Xunit;
using Xunit.Abstractions;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// <see cref="BatchingOptions.ReuseReplyKv"/>: second turns find their first turn's reply in the
/// prefix cache and prefill less, and their greedy tokens equal the exact path's (no reuse) at
/// every position whose top-two logit gap exceeds <see cref="Margin"/>; where they part, the
/// exact run's two best logits were within it.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class ReplyKvReuseTests(TinyModels models, ITestOutputHelper output)
{
    private const int Turns = 40;

    /// <summary>Decode and prompt kernels differ in the last bits of the KV; logits move far less than this.</summary>
    private const float Margin = 1e-2f;

    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-int8")]
    public async Task Second_turns_reuse_the_reply_and_agree_with_the_exact_path_beyond_near_ties(string variant)
    {
        var session = models.Session(variant);
        var random = new Random(variant.Length * 7919);
        var firstTurns = Enumerable.Range(0, Turns)
            .Select(_ => RandomIds(random.Next(), random.Next(4, 40)))
            .Select(prompt => new GenerationRequest(prompt, GenerationOptions.Greedy(random.Next(16, 40))))
            .ToArray();

        var exact = await RunTwoTurnsAsync(session, new BatchingOptions(), firstTurns, random.Next());
        var reused = await RunTwoTurnsAsync(session, new BatchingOptions { ReuseReplyKv = true }, firstTurns, exact.SecondSeed);

        exact.First.Select(r => r.Tokens).Should().BeEquivalentTo(reused.First.Select(r => r.Tokens), o => o.WithStrictOrdering(),
            "first turns find nothing of a reply in the cache");
        reused.SecondHitTokens.Should().BeGreaterThan(exact.SecondHitTokens, "second turns find their first turn's reply");
        reused.SecondPrefillTokens.Should().BeLessThan(exact.SecondPrefillTokens);
        output.WriteLine($"{variant}: second turns prefilled {reused.SecondPrefillTokens} positions with reuse, {exact.SecondPrefillTokens} without");

        int parted = 0;
        for (int i = 0; i < Turns; i++)
        {
            var expected = exact.Second[i].Tokens;
            var actual = reused.Second[i].Tokens;
            int t = Enumerable.Range(0, Math.Min(expected.Count, actual.Count)).FirstOrDefault(k => expected[k] != actual[k], -1);
            if (t < 0)
            {
                actual.Count.Should().Be(expected.Count, $"turn {i}");
                continue;
            }
            float[] logits = PromptLogits(session, [.. exact.SecondPrompts[i], .. expected.Take(t)]);
            (logits[expected[t]] - logits[actual[t]]).Should().BeLessThanOrEqualTo(Margin, $"turn {i} may part from the exact path at token {t} only at a near tie");
            output.WriteLine($"turn {i} parts at token {t}: logits {logits[expected[t]]} and {logits[actual[t]]}");
            parted++;
        }
        parted.Should().BeLessThanOrEqualTo(Turns / 10, "near ties are rare");
    }

    private sealed record TwoTurns(GenerationResult[] First, int[][] SecondPrompts, GenerationResult[] Second, long SecondHitTokens,
        long SecondPrefillTokens, int SecondSeed);

    /// <summary>First turns one at a time, then all second turns (prompt, reply, a few new tokens) at once.</summary>
    private static async Task<TwoTurns> RunTwoTurnsAsync(DecoderSession session, BatchingOptions options, GenerationRequest[] firstTurns, int seed)
    {
        using var engine = new BatchingEngine(session, options with { MaxQueueLength = Turns });
        var first = new GenerationResult[Turns];
        for (int i = 0; i < Turns; i++) first[i] = await engine.GenerateAsync(firstTurns[i]);

        var random = new Random(seed);
        var prompts = Enumerable.Range(0, Turns)
            .Select(i => (int[])[.. firstTurns[i].PromptIds, .. first[i].Tokens, .. RandomIds(random.Next(), random.Next(2, 8))])
            .ToArray();
        long prefill = 0;
        void Count(EngineStepReport step) => Interlocked.Add(ref prefill, step.PrefillTokens);
        long hitsBefore = engine.PrefixCacheHitTokens;
        engine.StepCompleted += Count;
        GenerationResult[] second;
        try
        {
            second = await Task.WhenAll(prompts.Select(p => engine.GenerateAsync(new GenerationRequest(p, GenerationOptions.Greedy(12)))));
        }
        finally
        {
            engine.StepCompleted -= Count;
        }
        return new TwoTurns(first, prompts, second, engine.PrefixCacheHitTokens - hitsBefore, Interlocked.Read(ref prefill), seed);
    }

    /// <summary>The last position's logits of <paramref name="sequence"/> computed as one prompt.</summary>
    private static float[] PromptLogits(DecoderSession session, int[] sequence)
    {
        using var cache = session.CreateSlotCache();
        cache.Reserve(1, sequence.Length);
        long[] ids = sequence.Select(t => (long)t).ToArray();
        long[] positions = ids.Select((_, p) => (long)p).ToArray();
        using var logits = session.StepSlots(ids, positions, ids.Length, cache, 0, 1, 1);
        return logits.Last(0).ToArray();
    }
}
