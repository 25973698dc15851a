using Xunit;
using System.Collections.Concurrent;
using Xunit.Abstractions;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// The isolation proof: random greedy requests of both kinds, submitted all at once, give
/// through the batching engine what each gives alone through <see cref="Generator"/> and
/// <see cref="LabelScorer"/>, although they are prefilled in groups and in chunks, merged into
/// and removed from a shared batch at every step.
/// </summary>
/// <remarks>
/// A row's logits in a padded batch differ from its solo logits in the last bits (attention
/// sums over masked padding in another order), by about 1e-6. So greedy tokens are identical
/// except where the solo run's two best logits are closer than that noise: a tie that no
/// batched computation can promise to break the same way. The test allows a sequence to part
/// from its solo run only at such a tie (within <see cref="TieTolerance"/>), and only rarely.
/// </remarks>
[Collection(TinyModelCollection.Name)]
public sealed class IsolationTests(TinyModels models, ITestOutputHelper output)
{
    private const int Requests = 200;
    private const float TieTolerance = 1e-3f;
    private const int MaxTies = 3;
    private const int PrefillLimit = 24;

    [Theory]
    [InlineData("fp32")]
    [InlineData("int8")]
    public async Task Requests_submitted_all_at_once_give_what_each_gives_alone(string variant)
    {
        var session = models.Session(variant);
        var workload = RandomWorkload(new Random(variant.Length * 7919), session);
        var generator = new Generator(session);
        var scorer = new LabelScorer(session);
        var alone = workload.Select(w => w.Generation is { } g
            ? (object)generator.Generate(g.PromptIds, g.Options)
            : scorer.Score(w.Prompt, w.Labels!)).ToArray();

        var reports = new ConcurrentQueue<EngineStepReport>(); // written on the engine thread
        // A small prefill budget makes long prompts prefill in chunks and groups small.
        using var engine = new BatchingEngine(session, new BatchingOptions { MaxPrefillTokensPerStep = PrefillLimit, MaxQueueLength = Requests });
        engine.StepCompleted += reports.Enqueue;
        var batched = workload.Select(w => w.Generation is { } g
            ? (Task)engine.GenerateAsync(g)
            : engine.ScoreAsync(w.Prompt, w.Labels!)).ToArray();
        await Task.WhenAll(batched);

        int ties = 0;
        for (int i = 0; i < Requests; i++)
        {
            if (alone[i] is GenerationResult expected)
            {
                var actual = await (Task<GenerationResult>)batched[i];
                int parting = FirstDifference(actual.Tokens, expected.Tokens);
                if (parting < 0)
                {
                    actual.FinishReason.Should().Be(expected.FinishReason, $"request {i}");
                    continue;
                }
                float[] solo = SoloLogits(session, workload[i].Prompt.Concat(expected.Tokens.Take(parting)).ToArray());
                solo[actual.Tokens[parting]].Should().BeGreaterThanOrEqualTo(solo.Max() - TieTolerance,
                    $"request {i} may part from its solo run at token {parting} only at a tie");
                output.WriteLine($"request {i} parts from its solo run at a tie, token {parting}: logits {solo[actual.Tokens[parting]]} and {solo.Max()}");
                ties++;
            }
            else
            {
                var expectedScores = (IReadOnlyList<LabelScore>)alone[i];
                var actualScores = await (Task<IReadOnlyList<LabelScore>>)batched[i];
                for (int k = 0; k < expectedScores.Count; k++)
                {
                    actualScores[k].LogProbability.Should().BeApproximately(expectedScores[k].LogProbability, 1e-4, $"request {i}, label {k}");
                    actualScores[k].Probability.Should().BeApproximately(expectedScores[k].Probability, 1e-4, $"request {i}, label {k}");
                }
            }
        }
        ties.Should().BeLessThanOrEqualTo(MaxTies, "ties are rare");
        reports.Max(r => r.DecodeRows).Should().BeInRange(8, 16, "many sequences decode together, never more than MaxBatchSize");
        // A prompt longer than the limit is prefilled alone, first in a chunk of exactly the limit.
        reports.Count(r => r.PrefillRows == 1 && r.PrefillColumns == PrefillLimit).Should()
            .BeGreaterThanOrEqualTo(workload.Count(w => w.Prompt.Length > PrefillLimit)).And.BePositive();
        reports.Should().Contain(r => r.PrefillRows > 1, "new requests were prefilled together");
        reports.Should().Contain(r => r.PrefillRows > 0 && r.DecodeRows > 0, "requests joined a running batch");
    }

    private static int FirstDifference(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        for (int t = 0; t < Math.Min(a.Count, b.Count); t++)
        {
            if (a[t] != b[t]) return t;
        }
        return a.Count == b.Count ? -1 : Math.Min(a.Count, b.Count);
    }

    /// <summary>The next-token logits after <paramref name="sequence"/>, computed alone.</summary>
    private static float[] SoloLogits(Inference.Engine.DecoderSession session, int[] sequence)
    {
        using var cache = session.CreateCache(1);
        long[] ids = sequence.Select(t => (long)t).ToArray();
        long[] mask = ids.Select(_ => 1L).ToArray();
        long[] positions = ids.Select((_, p) => (long)p).ToArray();
        using var logits = session.Step(ids, mask, positions, ids.Length, cache);
        return logits.Last(0).ToArray();
    }

    private sealed record WorkItem(int[] Prompt, GenerationRequest? Generation, IReadOnlyList<IReadOnlyList<int>>? Labels);

    /// <summary>Three generations (some with a repetition penalty or a stop token) for every scoring request.</summary>
    private static WorkItem[] RandomWorkload(Random random, Inference.Engine.DecoderSession session)
    {
        var generator = new Generator(session);
        var items = new WorkItem[Requests];
        for (int i = 0; i < Requests; i++)
        {
            int[] prompt = RandomIds(random.Next(), random.Next(1, 41));
            if (i % 4 == 3)
            {
                var labels = Enumerable.Range(0, random.Next(2, 4))
                    .Select(_ => (IReadOnlyList<int>)RandomIds(random.Next(), random.Next(1, 4)))
                    .ToArray();
                items[i] = new WorkItem(prompt, null, labels);
                continue;
            }
            var options = GenerationOptions.Greedy(random.Next(1, 25));
            if (i % 5 == 1) options = options with { RepetitionPenalty = 1.3f };
            if (i % 7 == 2)
            {
                // Stop at a token the free run produces, so that this sequence ends early.
                var free = generator.Generate(prompt, options).Tokens;
                options = options with { StopTokenIds = [free[free.Count / 2]] };
            }
            items[i] = new WorkItem(prompt, new GenerationRequest(prompt, options), null);
        }
        return items;
    }
}
