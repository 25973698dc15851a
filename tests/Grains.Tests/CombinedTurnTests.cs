using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Qwen.Inference.Generation;
using Qwen.Inference.Prompts;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Grains.Tests;

/// <summary>
/// The combined turn: a conversation turn that asks for its message's sentiment gets it first,
/// scored from the reply's own chat prompt, then the same reply a plain turn gets; the sentiment
/// is stored with the turn, read back with the history and replayed with a retried turn.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class CombinedTurnTests(TinyModelFixture model, ITestOutputHelper output)
{
    private const string Message = "会议推迟了，真扫兴";

    [Fact]
    public async Task The_sentiment_comes_first_then_the_plain_turns_reply_and_it_is_stored_and_replayed()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var events = await Stream(cluster.Conversation("dora"), new ChatTurnRequest("t1", Message) { Sentiment = true });

        var sentiment = events[0].Sentiment;
        sentiment.Should().NotBeNull("the first event is the sentiment");
        events[0].TextDelta.Should().BeNull();
        events[0].Completed.Should().BeNull();
        sentiment!.Label.Should().BeOneOf("positive", "negative");
        sentiment.Score.Should().BeInRange(0.5, 1);
        events.Skip(1).Should().OnlyContain(e => e.Sentiment == null, "the sentiment is sent once");
        events.Where(e => e.TextDelta is not null).Should().NotBeEmpty();
        var completed = events[^1].Completed!;
        completed.Sentiment.Should().Be(sentiment);

        // A plain turn of the same message gives the same reply and no sentiment.
        var plain = await cluster.Conversation("ed").SendMessageAsync(new ChatTurnRequest("t1", Message), TestTimeout.Token);
        plain.Reply.Should().Be(completed.Reply);
        plain.PromptTokens.Should().Be(completed.PromptTokens);
        plain.Sentiment.Should().BeNull();

        // Stored, and returned with the user's message in the history.
        (await cluster.StoredTurnsAsync("dora")).Single().Sentiment.Should().Be(sentiment);
        (await cluster.StoredTurnsAsync("ed")).Single().Sentiment.Should().BeNull();
        var history = await cluster.Conversation("dora").GetHistoryAsync(TestTimeout.Token);
        history.Messages.Select(m => m.Sentiment).Should().Equal(sentiment, null);

        // A retry of the stored turn replays its sentiment first, and its reply, without running the model.
        int before = cluster.Observer.RequestsOf("dora").Count;
        var replay = await Stream(cluster.Conversation("dora"), new ChatTurnRequest("t1", Message) { Sentiment = true });
        replay[0].Sentiment.Should().Be(sentiment);
        replay[^1].Completed!.FinishReason.Should().Be("stored");
        replay[^1].Completed!.Sentiment.Should().Be(sentiment);
        replay[^1].Completed!.Reply.Should().Be(completed.Reply);
        cluster.Observer.RequestsOf("dora").Count.Should().Be(before);
    }

    [Fact]
    public async Task The_turns_label_is_the_chat_prompts_with_the_cue_not_the_sentiment_endpoints()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var worker = cluster.Worker();
        var scorer = new LabelScorer(model.Model.Session);
        var classifier = new SentimentClassifier(model.Model.Session, model.Model.Tokenizer, new SentimentPromptOptions());
        var chat = new ChatPrompt(model.Model.Tokenizer, model.Model.Template, new ChatPromptOptions());
        string[] texts = ["今天真开心", Message, "The service was slow and rude.", "What a wonderful surprise!", "一般般吧"];
        int differing = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            var turn = await cluster.Conversation($"judge-{i}").SendMessageAsync(new ChatTurnRequest("t", texts[i]) { Sentiment = true },
                TestTimeout.Token);
            var prompt = chat.Build([ChatMessage.User(texts[i])], worker.ContextWindow, cluster.Settings.Conversations.MaxNewTokens);
            var expected = SentimentClassifier.FromScores(
                scorer.Score(classifier.TurnProbe.PromptWithCue(prompt.Ids), classifier.TurnProbe.Labels), PromptTruncation.None);
            turn.Sentiment!.Label.Should().Be(expected.Label, texts[i]);
            turn.Sentiment.Score.Should().BeApproximately(expected.Probability, 1e-5, texts[i]);

            // /v1/sentiment asks its own prompt (instruction, the text alone): another probability, sometimes another label.
            var alone = await worker.AnalyzeSentimentAsync(new SentimentRequest(texts[i]), TestTimeout.Token);
            alone.Score.Should().NotBeApproximately(turn.Sentiment.Score, 1e-6, texts[i]);
            if (alone.Label != turn.Sentiment.Label) differing++;
            output.WriteLine($"{texts[i]}: turn {turn.Sentiment.Label} {turn.Sentiment.Score:F4}, /v1/sentiment {alone.Label} {alone.Score:F4}");
        }
        output.WriteLine($"{differing} of {texts.Length} labels differ (synthetic weights)");
    }

    [Fact]
    public async Task The_same_turn_gives_the_same_label_and_reply_alone_batched_and_in_another_cluster()
    {
        await using var first = await QwenTestCluster.StartAsync(model);
        await using var second = await QwenTestCluster.StartAsync(model);
        var request = new ChatTurnRequest("t1", Message) { Sentiment = true };
        var alone = await first.Conversation("alone").SendMessageAsync(request, TestTimeout.Token);

        // Batched: eight users at once, half of them asking plain turns of other messages.
        var together = await Task.WhenAll(Enumerable.Range(0, 8).Select(u => u % 2 == 0
            ? first.Conversation($"batched-{u}").SendMessageAsync(request, TestTimeout.Token)
            : first.Conversation($"batched-{u}").SendMessageAsync(new ChatTurnRequest("t1", $"message {u}"), TestTimeout.Token)));
        var elsewhere = await second.Conversation("alone").SendMessageAsync(request, TestTimeout.Token);

        foreach (var turn in together.Where((_, u) => u % 2 == 0).Append(elsewhere))
        {
            turn.Sentiment.Should().Be(alone.Sentiment);
            turn.Reply.Should().Be(alone.Reply);
        }
    }

    [Fact]
    public async Task The_sequential_baseline_scores_the_same_prompt_separately_and_gives_the_same_label_and_reply()
    {
        await using var batched = await QwenTestCluster.StartAsync(model);
        var settings = new TestClusterSettings();
        await using var sequential = await QwenTestCluster.StartAsync(model,
            settings with { Inference = settings.Inference with { Scheduling = InferenceScheduling.Sequential } });
        var request = new ChatTurnRequest("t1", Message) { Sentiment = true };

        var shared = await batched.Conversation("base").SendMessageAsync(request, TestTimeout.Token);
        var separate = await Stream(sequential.Conversation("base"), request);

        separate[0].Sentiment!.Label.Should().Be(shared.Sentiment!.Label);
        separate[0].Sentiment!.Score.Should().BeApproximately(shared.Sentiment.Score, 1e-5);
        separate[^1].Completed!.Reply.Should().Be(shared.Reply);
    }

    private static async Task<List<ChatStreamEvent>> Stream(IConversationGrain grain, ChatTurnRequest request)
    {
        var events = new List<ChatStreamEvent>();
        await foreach (var e in grain.StreamMessageAsync(request, TestTimeout.Token)) events.Add(e);
        return events;
    }
}
