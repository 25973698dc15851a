using Xunit;
using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Prompts;

namespace Qwen.Grains.Tests;

/// <summary>
/// The worker on the batching engine: the same answers as one request per model call, and the
/// engine's refusals in the grain contract's terms.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class BatchedBackendTests(TinyModelFixture model)
{
    [Fact]
    public async Task Batched_and_sequential_workers_give_the_same_answers_to_concurrent_requests()
    {
        using var batched = Worker(InferenceScheduling.Batched);
        using var sequential = Worker(InferenceScheduling.Sequential);
        string[] texts = ["这部电影太好看了！", "服务太差了，再也不来了", "还行吧", "The food was great", "I hated every minute", "一般般"];
        ChatGenerationRequest[] chats =
        [
            new([new("user", "你好")], MaxNewTokens: 12),
            new([new("user", "Tell me a story"), new("assistant", "Once"), new("user", "go on")], MaxNewTokens: 9),
            new([new("user", "天气怎么样")], MaxNewTokens: 5),
        ];

        async Task<(Interfaces.SentimentResult[] Sentiments, GenerationSummary[] Replies)> Ask(InferenceWorker worker)
        {
            var sentiments = texts.Select(t => worker.AnalyzeSentimentAsync(new SentimentRequest(t), TestTimeout.Token)).ToArray();
            var replies = chats.Select(c => Reply(worker, c)).ToArray();
            return (await Task.WhenAll(sentiments), await Task.WhenAll(replies));
        }
        var expected = await Ask(sequential);
        var actual = await Ask(batched);

        for (int i = 0; i < texts.Length; i++)
        {
            actual.Sentiments[i].Label.Should().Be(expected.Sentiments[i].Label);
            actual.Sentiments[i].Score.Should().BeApproximately(expected.Sentiments[i].Score, 1e-4);
        }
        for (int i = 0; i < chats.Length; i++)
            actual.Replies[i].Should().BeEquivalentTo(expected.Replies[i], o => o.Excluding(r => r.SiloId), $"reply {i}");
        batched.QueuedRequests.Should().Be(0);
        batched.RunningRequests.Should().Be(0);
    }

    [Fact]
    public async Task A_full_engine_queue_is_refused_as_overloaded_and_a_request_beyond_the_kv_budget_as_invalid()
    {
        using var engine = new BatchingEngine(model.Model.Session, new BatchingOptions { MaxBatchSize = 1, MaxQueueLength = 1, KvBudgetTokens = 64 });
        using var backend = new BatchedBackend(engine);
        using var open = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Holds the engine thread inside a token callback, so the next request stays queued.
        var holding = backend.GenerateAsync(new GenerationRequest([1, 2, 3], GenerationOptions.Greedy(2)), _ =>
        {
            entered.TrySetResult();
            open.Wait();
        }, null, null, TestTimeout.Token);
        await entered.Task.WaitAsync(TestTimeout.Token);
        var queued = backend.ScoreAsync([4, 5], [[6], [7]], null, TestTimeout.Token);

        var refused = () => backend.ScoreAsync([8, 9], [[6], [7]], null, TestTimeout.Token);
        (await refused.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Overloaded);
        var tooLong = () => backend.GenerateAsync(new GenerationRequest([1, 2, 3, 4], GenerationOptions.Greedy(61)), _ => { }, null, null,
            TestTimeout.Token);
        (await tooLong.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.InvalidRequest);

        open.Set();
        await holding;
        (await queued).Should().HaveCount(2);
    }

    private InferenceWorker Worker(InferenceScheduling scheduling) => new(model.Model,
        Options.Create(new InferenceWorkerOptions { Scheduling = scheduling, MaxConcurrentRequests = 4 }), Options.Create(new SentimentPromptOptions()),
        Options.Create(new ChatPromptOptions()), new SiloIdentity("silo-b"), NullLogger<InferenceWorker>.Instance);

    private static async Task<GenerationSummary> Reply(InferenceWorker worker, ChatGenerationRequest request)
    {
        GenerationSummary? summary = null;
        await foreach (var e in worker.GenerateReplyAsync(request, TestTimeout.Token)) summary = e.Summary ?? summary;
        return summary ?? throw new InvalidOperationException("no summary");
    }
}
