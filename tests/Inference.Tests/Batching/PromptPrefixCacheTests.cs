using Xunit;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Prompts;
using Qwen.Inference.Tests.Engine;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Batching;

/// <summary>The prefix cache with the project's real prompts: the pinned system prompts and a conversation's next turn.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class PromptPrefixCacheTests(TinyModels models)
{
    private const string Variant = "shared-buffer";

    [Fact]
    public async Task Sentiment_prompts_share_the_pinned_system_prompt_and_score_as_without_the_cache()
    {
        var session = models.Session(Variant);
        var prompt = new SentimentPrompt(BpeTokenizer.Load(session.Model.TokenizerPath), new SentimentPromptOptions());
        IReadOnlyList<int>[] labels = [prompt.PositiveLabelIds, prompt.NegativeLabelIds];
        using var cached = new BatchingEngine(session);
        using var uncached = new BatchingEngine(session, new BatchingOptions { PrefixCache = false });
        cached.PinPrefix(prompt.SystemPrefixIds);
        int pinnedTokens = prompt.SystemPrefixIds.Count / PrefixCache.BlockTokens * PrefixCache.BlockTokens;
        pinnedTokens.Should().BePositive("the sentiment system prompt spans at least one cache block");

        foreach (string text in new[] { "这部电影太好看了！", "Terrible service. Never again.", "会议推迟了，真扫兴" })
        {
            var ids = prompt.Build(text).Ids;
            var withCache = await cached.ScoreAsync(ids, labels);
            var without = await uncached.ScoreAsync(ids, labels);
            withCache.Select(s => s.LogProbability).Should().Equal(without.Select(s => s.LogProbability), text);
        }
        cached.PrefixCacheHits.Should().Be(2, "the first prompt computed the system prompt, the other two reused it");
        cached.PrefixCacheHitTokens.Should().BeGreaterThanOrEqualTo(2 * pinnedTokens);
    }

    [Fact]
    public async Task A_conversations_next_turn_prefills_only_what_follows_the_previous_prompt()
    {
        var session = models.Session(Variant);
        var tokenizer = BpeTokenizer.Load(session.Model.TokenizerPath);
        var chat = new ChatPrompt(tokenizer, ChatTemplate.FromTokenizerConfig(models.PathOf(Variant)), new ChatPromptOptions());
        using var cached = new BatchingEngine(session);
        using var uncached = new BatchingEngine(session, new BatchingOptions { PrefixCache = false });

        var first = chat.Build([ChatMessage.User("你好，今天天气怎么样？")], 1024, 16);
        var reply = await cached.GenerateAsync(new GenerationRequest(first.Ids, GenerationOptions.Greedy(16)));
        string replyText = tokenizer.Decode(reply.Tokens.Where(t => !session.Model.EosTokenIds.Contains(t)).ToArray());
        var second = chat.Build([ChatMessage.User("你好，今天天气怎么样？"), ChatMessage.Assistant(replyText), ChatMessage.User("再说一遍")], 1024, 16);
        second.Ids.Take(first.Ids.Length).Should().Equal(first.Ids, "the next turn's prompt starts with the previous one");

        long before = cached.PrefixCacheHitTokens;
        var withCache = await cached.GenerateAsync(new GenerationRequest(second.Ids, GenerationOptions.Greedy(16)));
        var without = await uncached.GenerateAsync(new GenerationRequest(second.Ids, GenerationOptions.Greedy(16)));
        withCache.Tokens.Should().Equal(without.Tokens);
        (cached.PrefixCacheHitTokens - before).Should().BeGreaterThanOrEqualTo(first.Ids.Length / PrefixCache.BlockTokens * PrefixCache.BlockTokens);
    }
}
