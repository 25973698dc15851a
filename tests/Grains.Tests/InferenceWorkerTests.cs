using Xunit;
using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Qwen.Inference.Prompts;

namespace Qwen.Grains.Tests;

/// <summary>The inference worker on the tiny model: sentiment, streamed replies, request checks, cancellation.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class InferenceWorkerTests(TinyModelFixture model)
{
    [Fact]
    public async Task Sentiment_gives_a_label_a_probability_and_the_silo()
    {
        using var worker = Worker(new InferenceWorkerOptions());
        var result = await worker.AnalyzeSentimentAsync(new SentimentRequest("这部电影太好看了！"), TestTimeout.Token);

        result.Label.Should().BeOneOf("positive", "negative");
        result.Score.Should().BeInRange(0.5, 1.0);
        result.Truncation.Truncated.Should().BeFalse();
        result.SiloId.Should().Be("silo-w");
        worker.QueuedRequests.Should().Be(0);
        worker.RunningRequests.Should().Be(0);
    }

    [Fact]
    public async Task A_reply_streams_text_deltas_then_a_summary_whose_text_is_their_concatenation()
    {
        using var worker = Worker(new InferenceWorkerOptions { DefaultMaxNewTokens = 8 });
        var deltas = new List<string>();
        GenerationSummary? summary = null;
        await foreach (var e in worker.GenerateReplyAsync(new ChatGenerationRequest([new("user", "你好")]), TestTimeout.Token))
        {
            if (e.TextDelta is { } delta) deltas.Add(delta);
            summary = e.Summary ?? summary;
        }

        summary.Should().NotBeNull();
        deltas.Should().OnlyContain(d => d.Length > 0);
        string.Concat(deltas).Should().Be(summary!.Text);
        summary.CompletionTokens.Should().BeInRange(1, 8);
        summary.PromptTokens.Should().BeGreaterThan(5);
        worker.GeneratedTokens.Should().Be(summary.CompletionTokens);
    }

    [Fact]
    public async Task Greedy_is_the_default_and_repeats_exactly()
    {
        using var worker = Worker(new InferenceWorkerOptions());
        var request = new ChatGenerationRequest([new("user", "Say something"), new("assistant", "OK"), new("user", "More")], MaxNewTokens: 10);
        var first = await Summary(worker, request);
        var second = await Summary(worker, request with { Temperature = 0 });
        second.Text.Should().Be(first.Text);
        second.CompletionTokens.Should().Be(first.CompletionTokens);
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_reply_before_it_and_counts_the_tokens_generated()
    {
        using var worker = Worker(new InferenceWorkerOptions { DefaultMaxNewTokens = 16 });
        var request = new ChatGenerationRequest([new("user", "写一首关于春天的诗")]);
        var full = await Summary(worker, request);
        full.Text.Length.Should().BeGreaterThan(6, "the tiny model writes text to cut");
        string stop = full.Text.Substring(full.Text.Length / 2, 2);

        var deltas = new List<string>();
        GenerationSummary? cut = null;
        await foreach (var e in worker.GenerateReplyAsync(request with { Sampling = new SamplingParameters(Stop: [stop]) }, TestTimeout.Token))
        {
            if (e.TextDelta is { } delta) deltas.Add(delta);
            cut = e.Summary ?? cut;
        }

        cut!.Text.Should().Be(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)]);
        string.Concat(deltas).Should().Be(cut.Text);
        cut.FinishReason.Should().Be("stop");
        cut.CompletionTokens.Should().BeInRange(1, full.CompletionTokens);
        worker.RunningRequests.Should().Be(0);
    }

    [Fact]
    public async Task A_request_system_message_replaces_the_configured_one_and_a_seed_repeats_sampling()
    {
        using var worker = Worker(new InferenceWorkerOptions { DefaultMaxNewTokens = 8 });
        var plain = new ChatGenerationRequest([new("user", "你好")]);
        var configured = await Summary(worker, plain);
        var own = await Summary(worker, plain with { SystemMessage = "You are a terse assistant who answers in one word only, always." });
        own.PromptTokens.Should().NotBe(configured.PromptTokens);

        var sampled = plain with { Temperature = 1.0f, Sampling = new SamplingParameters(TopP: 0.9f, Seed: 1234) };
        (await Summary(worker, sampled)).Text.Should().Be((await Summary(worker, sampled)).Text);
    }

    [Fact]
    public async Task A_long_history_is_truncated_to_the_context_window()
    {
        using var worker = Worker(new InferenceWorkerOptions { ContextWindow = 128, MaxNewTokensLimit = 16, DefaultMaxNewTokens = 4 });
        var messages = Enumerable.Range(0, 20).SelectMany(i => new ConversationMessage[] { new("user", $"question number {i} about the weather"), new("assistant", $"answer number {i}") })
            .Append(new ConversationMessage("user", "and now?")).ToArray();
        var summary = await Summary(worker, new ChatGenerationRequest(messages));

        summary.Truncation.Truncated.Should().BeTrue();
        summary.Truncation.DroppedTurns.Should().BeGreaterThan(0);
        (summary.PromptTokens + 4).Should().BeLessThanOrEqualTo(128);
    }

    [Fact]
    public async Task Bad_requests_are_invalid_with_a_precise_message()
    {
        using var worker = Worker(new InferenceWorkerOptions { MaxNewTokensLimit = 32, DefaultMaxNewTokens = 8, MaxSentimentTextChars = 10 });
        async Task<string> Fails(Func<Task> call) =>
            (await call.Should().ThrowAsync<GrainCallException>().Where(e => e.Kind == GrainErrorKind.InvalidRequest)).Which.Message;
        Func<Task> Generate(ChatGenerationRequest request) => () => Summary(worker, request);
        ConversationMessage[] hi = [new("user", "hi")];

        (await Fails(() => worker.AnalyzeSentimentAsync(new SentimentRequest(" "), TestTimeout.Token))).Should().Be("the text to classify is empty");
        (await Fails(() => worker.AnalyzeSentimentAsync(new SentimentRequest("12345678901"), TestTimeout.Token)))
            .Should().Be("the text to classify has 11 characters; at most 10 are accepted");
        (await Fails(Generate(new ChatGenerationRequest([])))).Should().Be("the conversation is empty; it must end with the user's new message");
        (await Fails(Generate(new ChatGenerationRequest([new("user", "hi"), new("assistant", "yo")])))).Should().Be("the conversation must end with the user's new message");
        (await Fails(Generate(new ChatGenerationRequest([new("system", "be rude"), new("user", "hi")]))))
            .Should().StartWith("message 0 has role 'system'");
        (await Fails(Generate(new ChatGenerationRequest([new("user", "")])))).Should().Be("the user's new message is empty");
        (await Fails(Generate(new ChatGenerationRequest(hi, MaxNewTokens: 0)))).Should().Be("max_new_tokens must be in [1, 32] but was 0");
        (await Fails(Generate(new ChatGenerationRequest(hi, MaxNewTokens: 33)))).Should().Be("max_new_tokens must be in [1, 32] but was 33");
        (await Fails(Generate(new ChatGenerationRequest(hi, Temperature: -0.5f)))).Should().Be("temperature must be in [0, 2] (0 means greedy) but was -0.5");
        (await Fails(Generate(new ChatGenerationRequest(hi, Temperature: float.NaN)))).Should().Be("temperature must be in [0, 2] (0 means greedy) but was NaN");
    }

    [Fact]
    public async Task Sampling_with_a_temperature_produces_a_reply()
    {
        using var worker = Worker(new InferenceWorkerOptions());
        var summary = await Summary(worker, new ChatGenerationRequest([new("user", "hi")], MaxNewTokens: 4, Temperature: 0.8f));
        summary.CompletionTokens.Should().BeInRange(1, 4);
    }

    [Fact]
    public async Task Cancelling_stops_the_generation()
    {
        using var worker = Worker(new InferenceWorkerOptions { MaxNewTokensLimit = 512 });
        using var cancel = new CancellationTokenSource();
        // 512 greedy tokens of the tiny model take far longer than reaching the first delta.
        var consume = async () =>
        {
            await foreach (var e in worker.GenerateReplyAsync(new ChatGenerationRequest([new("user", "talk for a long time")], MaxNewTokens: 512), cancel.Token))
            {
                if (!cancel.IsCancellationRequested) await cancel.CancelAsync();
            }
        };

        await consume.Should().ThrowAsync<OperationCanceledException>();
        worker.RunningRequests.Should().Be(0);
    }

    [Fact]
    public void Options_that_leave_no_room_for_a_prompt_are_rejected_at_start()
    {
        var create = () => Worker(new InferenceWorkerOptions { ContextWindow = 64, MaxNewTokensLimit = 64, DefaultMaxNewTokens = 8 });
        create.Should().Throw<ArgumentException>().WithMessage("Inference: ContextWindow (64) must be larger than MaxNewTokensLimit (64)*");
        var queue = () => Worker(new InferenceWorkerOptions { MaxConcurrentRequests = 0 });
        queue.Should().Throw<ArgumentException>().WithMessage("Inference: MaxConcurrentRequests must be at least 1 but was 0");
    }

    private InferenceWorker Worker(InferenceWorkerOptions options) => new(model.Model, Options.Create(options), Options.Create(new SentimentPromptOptions()),
        Options.Create(new ChatPromptOptions()), new SiloIdentity("silo-w"), NullLogger<InferenceWorker>.Instance);

    private static async Task<GenerationSummary> Summary(InferenceWorker worker, ChatGenerationRequest request)
    {
        GenerationSummary? summary = null;
        await foreach (var e in worker.GenerateReplyAsync(request, TestTimeout.Token)) summary = e.Summary ?? summary;
        return summary ?? throw new InvalidOperationException("no summary");
    }
}
