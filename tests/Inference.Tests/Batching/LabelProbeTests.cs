using System.Collections.Concurrent;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using Xunit;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// A generation with a <see cref="LabelProbe"/> (the combined sentiment + reply turn): its labels
/// are scored from the prompt's own KV before the first token, with the scores of scoring
/// <c>prompt ++ cue</c> alone; its reply is the reply of the same prompt without the probe; and
/// the probe costs the cue's positions, not a second prefill.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class LabelProbeTests(TinyModels models)
{
    // "情感判断：" then 正面 / 负面 in Qwen's vocabulary, and a probe with labels of several tokens.
    private static readonly LabelProbe Sentiment = new([104934, 104317, 5122], [[106557], [103276]]);
    private static readonly LabelProbe LongLabels = new([11, 12], [[106557, 17], [103276], [5, 6, 7]]);

    private const int Requests = 24;

    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-no-logits-to-keep")]
    [InlineData("shared-buffer-lanes")]
    public async Task On_kv_slots_a_probed_turn_scores_and_replies_exactly_as_its_two_halves_alone_and_batched(string variant)
    {
        var session = models.Session(variant);
        var workload = Workload(new Random(15));
        var options = new BatchingOptions { MaxPrefillTokensPerStep = 24, MaxQueueLength = 3 * Requests };

        // The halves alone: the prompt generated without a probe, and prompt ++ cue scored.
        var plainReplies = new List<GenerationResult>();
        var scores = new List<IReadOnlyList<LabelScore>>();
        using (var alone = new BatchingEngine(session, options with { PrefixCache = false }))
        {
            foreach (var request in workload)
            {
                plainReplies.Add(await alone.GenerateAsync(request with { Probe = null }));
                scores.Add(await alone.ScoreAsync(request.Probe!.PromptWithCue(request.PromptIds), request.Probe.Labels));
            }
        }

        foreach (bool prefixCache in new[] { false, true })
        {
            using var engine = new BatchingEngine(session, options with { PrefixCache = prefixCache });
            var oneByOne = new List<GenerationResult>();
            foreach (var request in workload) oneByOne.Add(await Probed(engine, request).Result);
            // All at once, with plain generations of the same prompts mixed in.
            var probed = workload.Select(r => Probed(engine, r)).ToArray();
            var plain = workload.Select(r => engine.GenerateAsync(r with { Probe = null })).ToArray();
            await Task.WhenAll(probed.Select(p => p.Result).Concat(plain));

            for (int i = 0; i < Requests; i++)
            {
                string because = $"request {i}, prefix cache {prefixCache}";
                foreach (var result in new[] { oneByOne[i], await probed[i].Result })
                {
                    result.Tokens.Should().Equal(plainReplies[i].Tokens, because);
                    result.FinishReason.Should().Be(plainReplies[i].FinishReason, because);
                    result.ProbeScores!.Select(s => s.LogProbability).Should().Equal(scores[i].Select(s => s.LogProbability), because);
                }
                (await plain[i]).Tokens.Should().Equal(plainReplies[i].Tokens, because);
                probed[i].Events.First().Should().Be("scores", $"{because}: the scores come before the first token");
                probed[i].Events.Count(e => e == "scores").Should().Be(1, because);
            }
        }
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("int8")]
    public async Task On_kv_grids_a_probed_turn_scores_as_the_label_scorer_and_replies_as_the_generator(string variant)
    {
        var session = models.Session(variant);
        var workload = Workload(new Random(variant.Length));
        var generator = new Generator(session);
        var scorer = new LabelScorer(session);
        using var engine = new BatchingEngine(session, new BatchingOptions { MaxPrefillTokensPerStep = 24, MaxQueueLength = 2 * Requests });

        // Alone, each is exactly the generator's reply; all at once, the scores agree within padding noise.
        var alone = new List<GenerationResult>();
        foreach (var request in workload) alone.Add(await Probed(engine, request).Result);
        var together = workload.Select(r => Probed(engine, r)).ToArray();
        await Task.WhenAll(together.Select(p => p.Result));
        for (int i = 0; i < Requests; i++)
        {
            var request = workload[i];
            alone[i].Tokens.Should().Equal(generator.Generate(request.PromptIds, request.Options).Tokens, $"request {i}");
            var expected = scorer.Score(request.Probe!.PromptWithCue(request.PromptIds), request.Probe.Labels);
            foreach (var actual in new[] { alone[i].ProbeScores!, (await together[i].Result).ProbeScores! })
            {
                for (int k = 0; k < expected.Count; k++)
                    actual[k].LogProbability.Should().BeApproximately(expected[k].LogProbability, 1e-4, $"request {i}, label {k}");
            }
            together[i].Events.First().Should().Be("scores", $"request {i}");
        }
    }

    [Fact]
    public async Task A_probe_costs_its_cue_and_label_continuations_in_prefill_positions_and_nothing_more()
    {
        var session = models.Session("shared-buffer");
        int[] prompt = Enumerable.Range(0, 40).Select(i => 1000 + 37 * i).ToArray();
        var request = new GenerationRequest(prompt, GenerationOptions.Greedy(4));
        foreach (var probe in new[] { Sentiment, LongLabels })
        {
            using var engine = new BatchingEngine(session, new BatchingOptions { PrefixCache = false });
            var reports = new ConcurrentQueue<EngineStepReport>();
            engine.StepCompleted += reports.Enqueue;
            await engine.GenerateAsync(request);
            int plain = reports.Sum(r => r.PrefillColumns);
            reports.Clear();
            await engine.GenerateAsync(request with { Probe = probe });
            int combined = reports.Sum(r => r.PrefillColumns);

            plain.Should().Be(prompt.Length);
            combined.Should().Be(prompt.Length + probe.ComputedTokens);
        }
        Sentiment.ComputedTokens.Should().Be(3);
        LongLabels.ComputedTokens.Should().Be(2 + 1 + 0 + 2);
    }

    [Fact]
    public async Task A_probe_that_does_not_fit_the_context_window_or_has_one_label_is_refused_before_any_work()
    {
        var session = models.Session("shared-buffer");
        using var engine = new BatchingEngine(session);
        var oneLabel = new GenerationRequest([1, 2, 3], GenerationOptions.Greedy(2)) { Probe = new LabelProbe([4], [[5]]) };
        await FluentActions.Awaiting(() => engine.GenerateAsync(oneLabel)).Should().ThrowAsync<ArgumentException>()
            .WithMessage("*two candidate labels*");
        var noCue = new GenerationRequest([1, 2, 3], GenerationOptions.Greedy(2)) { Probe = new LabelProbe([], [[5], [6]]) };
        await FluentActions.Awaiting(() => engine.GenerateAsync(noCue)).Should().ThrowAsync<ArgumentException>().WithMessage("*cue*");
    }

    private sealed record ProbedRun(Task<GenerationResult> Result, ConcurrentQueue<string> Events);

    private static ProbedRun Probed(BatchingEngine engine, GenerationRequest request)
    {
        var events = new ConcurrentQueue<string>();
        var result = engine.GenerateAsync(request, null, _ => events.Enqueue("token"), _ => events.Enqueue("scores"), CancellationToken.None);
        return new ProbedRun(result, events);
    }

    /// <summary>Prompts of 3 to 70 tokens, greedy replies of up to 12 tokens, every other one with the long-label probe.</summary>
    private static GenerationRequest[] Workload(Random random) => Enumerable.Range(0, Requests).Select(i =>
    {
        int[] prompt = Enumerable.Range(0, random.Next(3, 71)).Select(_ => random.Next(0, 151_000)).ToArray();
        return new GenerationRequest(prompt, GenerationOptions.Greedy(random.Next(1, 13))) { Probe = i % 2 == 0 ? Sentiment : LongLabels };
    }).ToArray();
}
