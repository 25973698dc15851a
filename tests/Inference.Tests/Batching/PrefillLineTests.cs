using Xunit;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// On KV slots requests join the prefill line at every step, in priority order: a sentiment
/// request that arrives while a long chat prompt is being prefilled (in chunks over many steps)
/// is answered before that chat's first token; one that arrives in the middle of a step is
/// answered before the chat's next token; and every answer stays exactly what each gives alone.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class PrefillLineTests(TinyModels models)
{
    private static readonly int[] ScoredPrompt = Enumerable.Range(0, 20).Select(i => 900 + 17 * i).ToArray();
    private static readonly IReadOnlyList<IReadOnlyList<int>> Labels = [[41], [42, 43]];

    /// <summary>The chat's reply and the scoring request's scores, each run alone.</summary>
    private static async Task<(GenerationResult Chat, IReadOnlyList<LabelScore> Scores)> AloneAsync(
        DecoderSession session, BatchingOptions options, GenerationRequest chat)
    {
        using var alone = new BatchingEngine(session, options);
        return (await alone.GenerateAsync(chat), await alone.ScoreAsync(ScoredPrompt, Labels));
    }

    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-int8")]
    public async Task A_scoring_request_that_arrives_during_a_long_chat_prefill_is_answered_before_the_chats_first_token(string variant)
    {
        var session = models.Session(variant);
        var chat = new GenerationRequest(Enumerable.Range(0, 120).Select(i => 500 + 53 * i).ToArray(), GenerationOptions.Greedy(6));
        // 120 prompt tokens at 8 per step: the chat prefills over 15 steps.
        var options = new BatchingOptions { MaxPrefillTokensPerStep = 8, PrefixCache = false };
        var (chatAlone, scoresAlone) = await AloneAsync(session, options, chat);

        using var engine = new BatchingEngine(session, options);
        Task<IReadOnlyList<LabelScore>>? scoring = null;
        bool? scoredBeforeFirstToken = null;
        // Submitted from the engine's own thread after the chat's first prefill step, so it
        // certainly arrives while the chat still has most of its prompt to go.
        engine.StepCompleted += report =>
        {
            if (scoring is null && report.PrefillTokens > 0) scoring = engine.ScoreAsync(ScoredPrompt, Labels);
        };
        var reply = await engine.GenerateAsync(chat, onToken: _ => scoredBeforeFirstToken ??= scoring?.IsCompleted);

        scoring.Should().NotBeNull();
        var scores = await scoring!;
        scoredBeforeFirstToken.Should().BeTrue("the scoring request goes ahead of the chat's remaining prompt chunks");
        reply.Tokens.Should().Equal(chatAlone.Tokens);
        scores.Select(s => s.LogProbability).Should().Equal(scoresAlone.Select(s => s.LogProbability));
    }

    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-int8")]
    [InlineData("shared-buffer-lanes")]
    public async Task A_request_that_arrives_during_a_step_is_answered_before_the_chats_next_token(string variant)
    {
        var session = models.Session(variant);
        var chat = new GenerationRequest(Enumerable.Range(0, 40).Select(i => 700 + 31 * i).ToArray(), GenerationOptions.Greedy(6));
        var options = new BatchingOptions { PrefixCache = false };
        var (chatAlone, scoresAlone) = await AloneAsync(session, options, chat);

        using var engine = new BatchingEngine(session, options);
        Task<IReadOnlyList<LabelScore>>? scoring = null;
        bool? scoredBeforeSecondToken = null;
        int tokens = 0;
        // The chat's first token comes from its prompt's last chunk, before the step's decode: a
        // request submitted then arrives during the step. Without lanes it is prefilled in that step,
        // between its prompts; with lanes it goes in the next call, whose prompts complete before its decode rows.
        var reply = await engine.GenerateAsync(chat, onToken: _ =>
        {
            if (++tokens == 1) scoring = engine.ScoreAsync(ScoredPrompt, Labels);
            else if (tokens == 2) scoredBeforeSecondToken = scoring!.IsCompleted;
        });

        var scores = await scoring!;
        scoredBeforeSecondToken.Should().BeTrue("the scoring request is prefilled ahead of the chat's next decode");
        reply.Tokens.Should().Equal(chatAlone.Tokens);
        scores.Select(s => s.LogProbability).Should().Equal(scoresAlone.Select(s => s.LogProbability));
    }
}
