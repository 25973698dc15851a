using System.Collections.Concurrent;
using Xunit;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// On a model with prompt lanes the engine prefills several prompts in one model call, beside
/// the decode rows, and every answer is the one the same model built without lanes gives (where
/// each prompt chunk has a call of its own).
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class PromptLaneBatchingTests(TinyModels models)
{
    private static readonly IReadOnlyList<IReadOnlyList<int>> Labels = [[41], [42, 43]];

    [Theory]
    [InlineData("shared-buffer-lanes", "shared-buffer")]
    [InlineData("shared-buffer-int8-lanes", "shared-buffer-int8")]
    public async Task Prompts_that_start_together_share_one_call_and_answer_as_without_lanes(string withLanes, string without)
    {
        var (lanes, lanesReports) = await RunAsync(withLanes);
        var (plain, plainReports) = await RunAsync(without);

        lanes.Chat.Tokens.Should().Equal(plain.Chat.Tokens);
        lanes.Decoding.Tokens.Should().Equal(plain.Decoding.Tokens);
        for (int i = 0; i < lanes.Scores.Length; i++)
            lanes.Scores[i].Select(s => s.LogProbability).Should().Equal(plain.Scores[i].Select(s => s.LogProbability), $"scoring request {i}");
        // The three scoring prompts and the rest of the long chat prompt start together: one call carries all four, with the decode row.
        lanesReports.Should().Contain(r => r.PrefillRows == 4 && r.LaneTokens == r.PrefillTokens && r.DecodeRows == 1);
        plainReports.Should().OnlyContain(r => r.LaneTokens == 0);
    }

    private sealed record Answers(GenerationResult Chat, GenerationResult Decoding, IReadOnlyList<LabelScore>[] Scores);

    /// <summary>
    /// A short chat decodes while a 300-token chat prompt is prefilled over two steps; after the first
    /// of them three scoring requests arrive, so the next step starts them beside the long prompt's rest.
    /// </summary>
    private async Task<(Answers, EngineStepReport[])> RunAsync(string variant)
    {
        using var engine = new BatchingEngine(models.Session(variant), new BatchingOptions { PrefixCache = false });
        var reports = new ConcurrentQueue<EngineStepReport>();
        Task<IReadOnlyList<LabelScore>>[]? scoring = null;
        var decodingStarted = new TaskCompletionSource();
        var decoding = engine.GenerateAsync(new GenerationRequest([.. Enumerable.Range(0, 12).Select(i => 60 + 9 * i)], GenerationOptions.Greedy(40)),
            onToken: _ => decodingStarted.TrySetResult());
        await decodingStarted.Task;
        engine.StepCompleted += report =>
        {
            reports.Enqueue(report);
            if (scoring is null && report.PrefillTokens >= 200)
            {
                scoring = [.. Enumerable.Range(0, 3).Select(k => engine.ScoreAsync([.. Enumerable.Range(0, 10 + 3 * k).Select(i => 900 + 17 * i + k)], Labels))];
            }
        };
        var chat = await engine.GenerateAsync(new GenerationRequest([.. Enumerable.Range(0, 300).Select(i => 500 + 13 * i)], GenerationOptions.Greedy(4)));
        scoring.Should().NotBeNull();
        var scores = await Task.WhenAll(scoring!);
        return (new Answers(chat, await decoding, scores), [.. reports]);
    }
}
