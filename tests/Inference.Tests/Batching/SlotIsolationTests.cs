using Xunit;
using Xunit.Abstractions;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// The isolation proof for the shared-buffer layout: 200 random greedy requests (generation
/// and label scoring, prompts sharing system-prompt prefixes, second turns that continue
/// first turns) give exactly the same tokens and exactly the same scores when run one at a
/// time through the engine, all at once, with the prefix cache on and off, and with a cache
/// so small that it evicts all the time. Float16 KV variants too: halving the KV's precision
/// changes what a row computes, never that it computes the same alone and batched.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class SlotIsolationTests(TinyModels models, ITestOutputHelper output)
{
    private const int FirstTurns = 150;
    private const int SecondTurns = 50;
    private const int PrefillLimit = 24;

    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-int8")]
    [InlineData("shared-buffer-fp16-kv")]
    [InlineData("shared-buffer-int8-kv")]
    [InlineData("shared-buffer-int8-int8-kv")]
    [InlineData("shared-buffer-int8-kv-lanes")]
    [InlineData("shared-buffer-int8-fp16-kv")]
    [InlineData("shared-buffer-lanes")]
    public async Task Every_configuration_gives_exactly_what_each_request_gives_alone(string variant)
    {
        var session = models.Session(variant);
        var random = new Random(variant.Length * 104729);
        var firstTurns = FirstTurnWorkload(random);

        var alone = await RunAsync(session, Options(prefixCache: false), firstTurns, oneAtATime: true);
        // Alone through the engine is also what the plain Generator computes (whole prompt, then one token per step).
        var generator = new Generator(session);
        for (int i = 0; i < firstTurns.Length; i += 3)
        {
            if (firstTurns[i].Generation is { } g)
                ((GenerationResult)alone.Results[i]).Tokens.Should().Equal(generator.Generate(g.PromptIds, g.Options).Tokens, $"request {i} alone");
        }
        var secondTurns = SecondTurnWorkload(random, firstTurns, alone.Results);
        var aloneSecond = await RunAsync(session, Options(prefixCache: false), secondTurns, oneAtATime: true);

        foreach (var (name, options) in new[]
                 {
                     ("all at once, no prefix cache", Options(prefixCache: false)),
                     ("all at once, prefix cache", Options(prefixCache: true)),
                     ("all at once, prefix cache of 32 tokens", Options(prefixCache: true) with { PrefixCacheTokens = 32 }),
                 })
        {
            using var engine = new BatchingEngine(session, options);
            var first = await RunAsync(engine, firstTurns, oneAtATime: false);
            var second = await RunAsync(engine, secondTurns, oneAtATime: false);
            output.WriteLine($"{name}: max decode rows {Math.Max(first.MaxDecodeRows, second.MaxDecodeRows)}, prefix hits {engine.PrefixCacheHits}, " +
                             $"misses {engine.PrefixCacheMisses}, hit tokens {engine.PrefixCacheHitTokens}, cached tokens {engine.PrefixCacheTokens}");
            SameResults(first.Results, alone.Results, name);
            SameResults(second.Results, aloneSecond.Results, name + ", second turns");
            Math.Max(first.MaxDecodeRows, second.MaxDecodeRows).Should().BeInRange(8, 16, "many sequences decode together, never more than MaxBatchSize");
            if (options.PrefixCache)
            {
                engine.PrefixCacheHits.Should().BePositive("shared prefixes and second turns find cached KV");
                engine.PrefixCacheTokens.Should().BeLessThanOrEqualTo(options.PrefixCacheTokens);
            }
            else
            {
                engine.PrefixCacheHits.Should().Be(0);
                // Without a cache every prompt position is computed once, however prompts share steps.
                first.PrefillTokens.Should().Be(firstTurns.Sum(w => (long)w.Prompt.Length), "the reports count each prompt position once");
            }
        }

        // One at a time with the cache on: every second turn finds its first turn's prompt.
        using (var cached = new BatchingEngine(session, Options(prefixCache: true)))
        {
            SameResults((await RunAsync(cached, firstTurns, oneAtATime: true)).Results, alone.Results, "one at a time, prefix cache");
            long hitsBefore = cached.PrefixCacheHitTokens;
            SameResults((await RunAsync(cached, secondTurns, oneAtATime: true)).Results, aloneSecond.Results, "one at a time, prefix cache, second turns");
            (cached.PrefixCacheHitTokens - hitsBefore).Should().BeGreaterThanOrEqualTo(secondTurns.Count(w => w.Prompt.Length >= 2 * PrefixCache.BlockTokens) * PrefixCache.BlockTokens);
        }
    }

    private static BatchingOptions Options(bool prefixCache) => new()
    {
        MaxPrefillTokensPerStep = PrefillLimit,
        MaxQueueLength = FirstTurns + SecondTurns,
        PrefixCache = prefixCache,
    };

    private static void SameResults(object[] actual, object[] expected, string configuration)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] is GenerationResult generation)
            {
                var result = (GenerationResult)actual[i];
                result.Tokens.Should().Equal(generation.Tokens, $"{configuration}: request {i}");
                result.FinishReason.Should().Be(generation.FinishReason, $"{configuration}: request {i}");
            }
            else
            {
                ((IReadOnlyList<LabelScore>)actual[i]).Select(s => s.LogProbability).Should()
                    .Equal(((IReadOnlyList<LabelScore>)expected[i]).Select(s => s.LogProbability), $"{configuration}: request {i}");
            }
        }
    }

    private sealed record Run(object[] Results, int MaxDecodeRows, long PrefillTokens);

    private static async Task<Run> RunAsync(DecoderSession session, BatchingOptions options, WorkItem[] work, bool oneAtATime)
    {
        using var engine = new BatchingEngine(session, options);
        return await RunAsync(engine, work, oneAtATime);
    }

    private static async Task<Run> RunAsync(BatchingEngine engine, WorkItem[] work, bool oneAtATime)
    {
        int maxRows = 0;
        long prefillTokens = 0;
        void Observe(EngineStepReport report)
        {
            maxRows = Math.Max(maxRows, report.DecodeRows);
            prefillTokens += report.PrefillTokens; // the engine reports from its one loop thread
        }
        engine.StepCompleted += Observe;
        try
        {
            var results = new object[work.Length];
            if (oneAtATime)
            {
                for (int i = 0; i < work.Length; i++) results[i] = await Submit(engine, work[i]);
            }
            else
            {
                var tasks = work.Select(w => Submit(engine, w)).ToArray();
                for (int i = 0; i < work.Length; i++) results[i] = await tasks[i];
            }
            return new Run(results, Volatile.Read(ref maxRows), Interlocked.Read(ref prefillTokens));
        }
        finally
        {
            engine.StepCompleted -= Observe;
        }
    }

    private static async Task<object> Submit(BatchingEngine engine, WorkItem item) => item.Generation is { } generation
        ? await engine.GenerateAsync(generation)
        : await engine.ScoreAsync(item.Prompt, item.Labels!);

    private sealed record WorkItem(int[] Prompt, GenerationRequest? Generation, IReadOnlyList<IReadOnlyList<int>>? Labels);

    /// <summary>
    /// Generations and scoring requests; half of the prompts start with one of three fixed
    /// "system prompts" (longer than a cache block), the rest are random, 1–60 tokens.
    /// </summary>
    private static WorkItem[] FirstTurnWorkload(Random random)
    {
        int[][] systems = [RandomIds(901, 20), RandomIds(902, 35), RandomIds(903, 48)];
        var items = new WorkItem[FirstTurns];
        for (int i = 0; i < FirstTurns; i++)
        {
            int[] prompt = i % 2 == 0
                ? [.. systems[random.Next(systems.Length)], .. RandomIds(random.Next(), random.Next(1, 20))]
                : RandomIds(random.Next(), random.Next(1, 61));
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
            items[i] = new WorkItem(prompt, new GenerationRequest(prompt, options), null);
        }
        return items;
    }

    /// <summary>Second turns: a first turn's prompt, its reply (as generated alone) and a few new tokens.</summary>
    private static WorkItem[] SecondTurnWorkload(Random random, WorkItem[] firstTurns, object[] replies)
    {
        var generations = Enumerable.Range(0, firstTurns.Length).Where(i => firstTurns[i].Generation is not null).ToArray();
        return Enumerable.Range(0, SecondTurns).Select(_ =>
        {
            int i = generations[random.Next(generations.Length)];
            int[] prompt = [.. firstTurns[i].Prompt, .. ((GenerationResult)replies[i]).Tokens, .. RandomIds(random.Next(), random.Next(1, 8))];
            return new WorkItem(prompt, new GenerationRequest(prompt, GenerationOptions.Greedy(random.Next(1, 17))), null);
        }).ToArray();
    }
}
