using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Qwen.Inference.Prompts;
using Xunit;

namespace Qwen.Grains.Tests;

/// <summary>
/// The worker under pressure, on the real engine and the tiny model: deadlines and
/// cancellations free their place in the batch, degradation caps replies only above the
/// backlog threshold, and the load snapshot shows it all.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class WorkerBackpressureTests(TinyModelFixture model)
{
    // Far longer than any test waits for it (it is always cancelled), so that on a slow machine it
    // cannot end on its own while the test still counts on it running.
    private const int Long = 30_000;

    [Theory]
    [InlineData(InferenceScheduling.Batched)]
    [InlineData(InferenceScheduling.Sequential)]
    public async Task A_request_past_its_deadline_fails_as_timeout_and_frees_its_place(InferenceScheduling scheduling)
    {
        using var worker = Worker(scheduling);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var running = Drain(worker.GenerateReplyAsync(Chat("keep the slot busy", Long), stop.Token));
        await TestTimeout.UntilAsync(() => worker.Load().Running == 1, TimeSpan.FromSeconds(20), "the long reply runs");

        var late = () => Drain(worker.GenerateReplyAsync(Chat("too late", 8) with { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(100) },
            TestTimeout.Token));
        (await late.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Timeout);
        var lateSentiment = () => worker.AnalyzeSentimentAsync(new SentimentRequest("还行吧") { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(-1) }, TestTimeout.Token);
        (await lateSentiment.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Timeout);

        var load = worker.Load();
        load.Expired.Should().Be(2);
        load.Queued.Should().Be(0, "an expired request leaves the queue");
        load.Running.Should().Be(1, "only the long reply still runs");
        await stop.CancelAsync();
        await FluentActions.Awaiting(() => running).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task A_cancelled_reply_leaves_the_batch_within_one_step()
    {
        using var worker = Worker(InferenceScheduling.Batched);
        using var stop = new CancellationTokenSource();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reply = Task.Run(async () =>
        {
            await foreach (var e in worker.GenerateReplyAsync(Chat("a long answer please", Long), stop.Token))
            {
                if (e.TextDelta is not null) first.TrySetResult();
            }
        });
        await first.Task.WaitAsync(TestTimeout.Token);
        await TestTimeout.UntilAsync(() => worker.Load().BatchSize == 1, TimeSpan.FromSeconds(10), "the reply decodes");

        long rowsAtCancel = worker.Load().DecodedRows;
        await stop.CancelAsync();
        await FluentActions.Awaiting(() => reply).Should().ThrowAsync<OperationCanceledException>();
        await TestTimeout.UntilAsync(() => worker.Load() is { Running: 0, BatchSize: 0 }, TimeSpan.FromSeconds(10), "the engine is idle");
        await Task.Delay(200);

        var load = worker.Load();
        (load.DecodedRows - rowsAtCancel).Should().BeLessThan(Long / 10, "the reply stopped long before its end");
        await Task.Delay(200);
        worker.Load().DecodedRows.Should().Be(load.DecodedRows, "nothing decodes once the reply has left");
        load.Cancelled.Should().Be(1);
        load.GeneratedTokens.Should().BeLessThan(Long, "tokens count as they are generated, and the cancelled reply stopped early");
    }

    [Fact]
    public async Task No_row_is_computed_for_a_request_after_its_caller_cancels()
    {
        using var backend = new BatchedBackend(model.Model.Session, new Qwen.Inference.Batching.BatchingOptions { MaxBatchSize = 2, KvBudgetTokens = 32 * 1024 });
        using var stop = new CancellationTokenSource();
        long rowsAtCancel = -1;
        int tokens = 0;
        // Cancelled from the token callback, on the engine thread between steps: no step is in flight.
        var generation = backend.GenerateAsync(new Qwen.Inference.Generation.GenerationRequest([1, 2, 3], Qwen.Inference.Generation.GenerationOptions.Greedy(Long)),
            _ =>
            {
                if (++tokens != 8) return;
                rowsAtCancel = backend.DecodedRows;
                stop.Cancel();
            }, null, null, stop.Token);
        await FluentActions.Awaiting(() => generation).Should().ThrowAsync<OperationCanceledException>();
        await TestTimeout.UntilAsync(() => backend is { Running: 0, BatchSize: 0 }, TimeSpan.FromSeconds(10), "the engine is idle");
        await Task.Delay(100);
        backend.DecodedRows.Should().Be(rowsAtCancel + 1, "the step that chose the 8th token is counted after its callback; no later step computes the row");
        tokens.Should().Be(8);
    }

    [Fact]
    public async Task Above_the_backlog_threshold_replies_are_capped_and_say_so()
    {
        using var worker = Worker(InferenceScheduling.Batched, new DegradationOptions { BacklogThreshold = 0, CappedMaxNewTokens = 3 });
        worker.Load().Should().Match<WorkerLoad>(l => !l.Degraded && l.DegradedMaxNewTokens == 3);
        var alone = await Reply(worker, Chat("hello", 12));
        alone.Degraded.Should().BeNull("nothing waits, so the reply is not capped");
        alone.CompletionTokens.Should().BeGreaterThan(3);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var holder = Drain(worker.GenerateReplyAsync(Chat("keep the slot busy", Long), stop.Token));
        await TestTimeout.UntilAsync(() => worker.Load().Running == 1, TimeSpan.FromSeconds(20), "the long reply runs");
        var second = Reply(worker, Chat("hello", 12));
        await TestTimeout.UntilAsync(() => worker.Load().Queued == 1, TimeSpan.FromSeconds(20), "the second reply waits");
        worker.Load().Degraded.Should().BeTrue("one waiting request is above a threshold of 0");
        var third = Reply(worker, Chat("hello", 12));
        await TestTimeout.UntilAsync(() => worker.Load().Queued == 2, TimeSpan.FromSeconds(20), "the third reply waits");
        await stop.CancelAsync();

        (await second).Degraded.Should().BeNull("the backlog was 0 when it arrived");
        var capped = await third;
        capped.Degraded.Should().Be(new ReplyDegradation("backlog", 3));
        capped.CompletionTokens.Should().BeLessThanOrEqualTo(3);
        (await Reply(worker, Chat("hello", 12))).Should().BeEquivalentTo(alone, "once the backlog is gone replies are whole again");
    }

    private InferenceWorker Worker(InferenceScheduling scheduling, DegradationOptions? degradation = null) => new(model.Model,
        Options.Create(new InferenceWorkerOptions
        {
            Scheduling = scheduling,
            MaxConcurrentRequests = 1,
            MaxBatchSize = 1,
            MaxQueueLength = 4,
            ContextWindow = 32 * 1024,
            MaxNewTokensLimit = Long,
            KvBudgetTokens = 32 * 1024,
            Degradation = degradation ?? new DegradationOptions { Enabled = false },
        }),
        Options.Create(new SentimentPromptOptions()), Options.Create(new ChatPromptOptions()), new SiloIdentity("silo-p"),
        NullLogger<InferenceWorker>.Instance);

    private static ChatGenerationRequest Chat(string text, int maxNewTokens) => new([new("user", text)], MaxNewTokens: maxNewTokens);

    private static async Task Drain(IAsyncEnumerable<GenerationEvent> events)
    {
        await foreach (var _ in events) { }
    }

    private static async Task<GenerationSummary> Reply(InferenceWorker worker, ChatGenerationRequest request)
    {
        GenerationSummary? summary = null;
        await foreach (var e in worker.GenerateReplyAsync(request, TestTimeout.Token)) summary = e.Summary ?? summary;
        return summary ?? throw new InvalidOperationException("no summary");
    }
}
