using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Xunit;

namespace Qwen.Grains.Tests;

/// <summary>
/// What the grains rely on Orleans for, through real grain calls: deadlines and cancellation that
/// cross the call and free the batch row, errors and records that cross intact, the worker on the
/// calling silo and reentrant, silo-keyed and warm-silo placement.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class OrleansCallTests(TinyModelFixture model)
{
    // Far longer than any test waits for it (it is always cancelled), so that on a slow machine it
    // cannot end on its own while the test still counts on it running.
    private const int Long = 30_000;

    // One sequence per model step, so a long reply keeps the engine's only row busy.
    private static readonly TestClusterSettings OneRow = new()
    {
        Inference = new InferenceWorkerOptions
        {
            MaxConcurrentRequests = 1, MaxBatchSize = 1, MaxQueueLength = 4, ContextWindow = 32 * 1024, MaxNewTokensLimit = Long,
            KvBudgetTokens = 32 * 1024, Degradation = new DegradationOptions { Enabled = false },
        },
    };

    [Fact]
    public async Task A_turn_or_sentiment_past_its_deadline_fails_as_timeout_and_frees_its_place()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model, OneRow);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var busy = Drain(cluster.WorkerGrain.GenerateReplyAsync(Chat("keep the slot busy", Long), stop.Token));
        await TestTimeout.UntilAsync(() => cluster.Worker().Load().Running == 1, TimeSpan.FromSeconds(30), "the long reply runs");

        var late = () => cluster.Conversation("tom").SendMessageAsync(
            new ChatTurnRequest("1", "too late") { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(100) }, TestTimeout.Token);
        var error = (await late.Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.Timeout);
        error.Message.Should().StartWith("the request's deadline (");
        var lateSentiment = () => cluster.WorkerGrain.AnalyzeSentimentAsync(
            new SentimentRequest("还行吧") { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(-1) }, TestTimeout.Token);
        (await lateSentiment.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Timeout);

        var load = await cluster.WorkerGrain.GetLoadAsync(TestTimeout.Token);
        load.Expired.Should().Be(2);
        load.Queued.Should().Be(0, "an expired request leaves the queue");
        load.Running.Should().Be(1, "only the long reply still runs");
        (await cluster.StoredTurnsAsync("tom")).Should().BeEmpty();
        await stop.CancelAsync();
        await FluentActions.Awaiting(() => busy).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Leaving_a_streamed_turn_mid_reply_cancels_the_generation_frees_the_row_and_stores_nothing()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model, OneRow);
        var worker = cluster.Worker();
        await foreach (var e in cluster.Conversation("una").StreamMessageAsync(new ChatTurnRequest("1", "a long answer please", MaxNewTokens: Long),
                           TestTimeout.Token))
        {
            if (e.TextDelta is not null) break; // disposes the stream: the grain's enumerator, then the worker's
        }

        await TestTimeout.UntilAsync(() => worker.Load() is { Cancelled: 1, Running: 0, BatchSize: 0 }, TimeSpan.FromSeconds(30),
            "the worker counts the reply as cancelled and its row is free");
        var load = worker.Load();
        load.DecodedRows.Should().BeLessThan(Long, "the reply stopped long before its end");
        load.GeneratedTokens.Should().BeLessThan(Long, "tokens count as they are generated, and the cancelled reply stopped early");
        await TestTimeout.UntilAsync(() => cluster.Activity(0).RunningTurns == 0, TimeSpan.FromSeconds(30), "the turn ends");
        (await cluster.StoredTurnsAsync("una")).Should().BeEmpty();
        (await cluster.Conversation("una").SendMessageAsync(new ChatTurnRequest("2", "short"), TestTimeout.Token)).TurnNumber.Should().Be(1);
    }

    [Fact]
    public async Task Cancelling_a_clients_call_mid_reply_cancels_the_generation_and_stores_nothing()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model, OneRow);
        var worker = cluster.Worker();
        using var cancel = new CancellationTokenSource();
        var send = cluster.Conversation("vera").SendMessageAsync(new ChatTurnRequest("1", "a long answer please", MaxNewTokens: Long), cancel.Token);
        await TestTimeout.UntilAsync(() => worker.Load() is { Running: 1, DecodedRows: > 0 }, TimeSpan.FromSeconds(30), "the reply decodes");

        await cancel.CancelAsync();
        await send.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        await TestTimeout.UntilAsync(() => worker.Load() is { Cancelled: 1, Running: 0, BatchSize: 0 }, TimeSpan.FromSeconds(30),
            "the cancellation reached the worker and freed the row");
        worker.Load().DecodedRows.Should().BeLessThan(Long);
        await TestTimeout.UntilAsync(() => cluster.Activity(0).RunningTurns == 0, TimeSpan.FromSeconds(30), "the turn ends");
        (await cluster.StoredTurnsAsync("vera")).Should().BeEmpty();
    }

    [Fact]
    public async Task Sentiment_beyond_the_worker_queue_is_refused_as_overloaded()
    {
        // One request per model call, so the numbers below are exact (BatchedBackendTests covers batching).
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings
        {
            Inference = new InferenceWorkerOptions { Scheduling = InferenceScheduling.Sequential, MaxConcurrentRequests = 1, MaxQueueLength = 2 },
        });
        var calls = Enumerable.Range(0, 20)
            .Select(i => Outcome(() => cluster.WorkerGrain.AnalyzeSentimentAsync(new SentimentRequest($"这家店的服务很好 {i}"), TestTimeout.Token)))
            .ToArray();
        var outcomes = await Task.WhenAll(calls);

        var refused = outcomes.OfType<GrainCallException>().ToArray();
        outcomes.Should().OnlyContain(e => e == null || e is GrainCallException);
        refused.Should().NotBeEmpty();
        refused.Should().OnlyContain(e => e.Kind == GrainErrorKind.Overloaded && e.IsRetryable);
        outcomes.Count(e => e == null).Should().BeGreaterThanOrEqualTo(3);
        (await cluster.WorkerGrain.GetLoadAsync(TestTimeout.Token)).Refused.Should().Be(refused.Length);
    }

    [Fact]
    public async Task Grain_errors_and_records_cross_the_grain_boundary_intact()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var empty = () => cluster.WorkerGrain.AnalyzeSentimentAsync(new SentimentRequest(" "), TestTimeout.Token);
        var invalid = (await empty.Should().ThrowAsync<GrainCallException>()).Which;
        invalid.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        invalid.Message.Should().Be("the text to classify is empty");

        var serializer = cluster.Client.ServiceProvider.GetRequiredService<Serializer>();
        T Roundtrip<T>(T value) => serializer.Deserialize<T>(serializer.SerializeToArray(value))!;
        var overloaded = Roundtrip(new GrainCallException(GrainErrorKind.Overloaded, "the silo is full"));
        overloaded.Kind.Should().Be(GrainErrorKind.Overloaded);
        overloaded.Message.Should().Be("the silo is full");
        overloaded.IsRetryable.Should().BeTrue();
        var request = new ChatTurnRequest("t", "hi", 7, 0.5f)
        {
            Sampling = new SamplingParameters(0.9f, 42, ["\n\n", "END"]), Deadline = DateTimeOffset.UnixEpoch.AddDays(20000),
        };
        Roundtrip(request).Should().BeEquivalentTo(request);

        var grain = cluster.Conversation("walt");
        var turns = new[] { await grain.SendMessageAsync(new ChatTurnRequest("1", "一"), TestTimeout.Token),
            await grain.SendMessageAsync(new ChatTurnRequest("2", "two"), TestTimeout.Token) };
        var history = await grain.GetHistoryAsync(TestTimeout.Token);
        history.Should().BeEquivalentTo(new ConversationHistory("walt",
            [new("user", "一"), new("assistant", turns[0].Reply), new("user", "two"), new("assistant", turns[1].Reply)], 2),
            o => o.WithStrictOrdering());
        Roundtrip(history).Should().BeEquivalentTo(history, o => o.WithStrictOrdering());
    }

    [Fact]
    public async Task The_worker_runs_on_the_silo_of_the_conversation_that_calls_it()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Silos = 3 });
        await cluster.WaitForPlacementViewAsync();
        string[] users = [.. Enumerable.Range(0, 12).Select(i => $"w{i}")];
        Task<ChatTurnResult[]> SendAll() =>
            Task.WhenAll(users.Select(u => cluster.Conversation(u).SendMessageAsync(new ChatTurnRequest("1", "hi"), TestTimeout.Token)));
        var generated = await SendAll();
        // A stored turn is answered by the conversation grain itself, with its own silo's id.
        var replayed = await SendAll();

        replayed.Should().OnlyContain(r => r.FinishReason == ConversationGrain.StoredFinishReason);
        replayed.Select(r => r.SiloId).Should().Equal(generated.Select(r => r.SiloId), "each worker ran on its caller's silo");
        replayed.Select(r => r.SiloId).Distinct().Should().HaveCountGreaterThan(1, "the conversations are spread over the silos");
        cluster.Observer.Generations.Select(g => g.Silo).Should().Equal(cluster.Observer.Generations.Select(g =>
            generated.Single(r => r.UserId == g.UserId).SiloId));
    }

    [Fact]
    public async Task The_worker_is_reentrant_so_concurrent_sentiment_calls_share_model_steps()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var worker = cluster.Worker();
        using var engineHeld = new ManualResetEventSlim();
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int holdOnce = 1;
        int mostRows = 0;
        void OnStep(Qwen.Inference.Batching.EngineStepReport step)
        {
            InterlockedMax(ref mostRows, step.PrefillRows + step.DecodeRows);
            if (Interlocked.Exchange(ref holdOnce, 0) == 0) return;
            // Keeps the engine thread after the first step, so the calls below wait in the worker's queue together.
            holding.TrySetResult();
            engineHeld.Wait(TimeSpan.FromSeconds(60));
        }
        worker.StepCompleted += OnStep;
        try
        {
            var opener = cluster.WorkerGrain.AnalyzeSentimentAsync(new SentimentRequest("开始"), TestTimeout.Token);
            await holding.Task.WaitAsync(TestTimeout.Token);
            // The worker has one activation per silo: several calls inside it at once means it is reentrant.
            const int calls = 4;
            var concurrent = Enumerable.Range(0, calls)
                .Select(i => cluster.WorkerGrain.AnalyzeSentimentAsync(new SentimentRequest($"服务很好 {i}"), TestTimeout.Token)).ToArray();
            await TestTimeout.UntilAsync(() => worker.Load().Queued == calls, TimeSpan.FromSeconds(30), "every call is inside the worker at once");
            engineHeld.Set();

            var results = await Task.WhenAll([opener, .. concurrent]);
            results.Should().OnlyContain(r => r.SiloId == QwenTestCluster.SiloName(0));
            Volatile.Read(ref mostRows).Should().BeGreaterThan(1, "queued calls are scored together in one model step");
        }
        finally
        {
            engineHeld.Set();
            worker.StepCompleted -= OnStep;
        }
    }

    [Fact]
    public async Task A_silo_grain_runs_on_the_silo_its_key_names_and_no_conversation_is_placed_on_a_cold_silo()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Silos = 3, ColdSilos = [2] });
        for (int i = 0; i < 3; i++)
        {
            var status = await cluster.SiloGrain(i).GetStatusAsync(TestTimeout.Token);
            status.SiloAddress.Should().Be(cluster.Silo(i).SiloAddress.ToParsableString());
            status.SiloId.Should().Be(QwenTestCluster.SiloName(i));
            status.State.Should().Be(i == 2 ? SiloStatusReport.Cold : SiloStatusReport.Active);
            (status.Load is null).Should().Be(i == 2);
        }
        (await cluster.SiloGrain(1).AnalyzeSentimentAsync(new SentimentRequest("好"), TestTimeout.Token)).SiloId
            .Should().Be(QwenTestCluster.SiloName(1));
        var onCold = () => cluster.SiloGrain(2).AnalyzeSentimentAsync(new SentimentRequest("好"), TestTimeout.Token);
        (await onCold.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Unavailable);

        // Greedy replies are the same on every warm silo.
        var request = new ChatGenerationRequest([new("user", "Say something")], MaxNewTokens: 6);
        (await Reply(cluster.SiloGrain(0), request)).Text.Should().Be((await Reply(cluster.SiloGrain(1), request)).Text);

        await cluster.WaitForPlacementViewAsync();
        await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            cluster.Conversation($"c{i}").SendMessageAsync(new ChatTurnRequest("1", "hello"), TestTimeout.Token)));
        cluster.Activity(2).Active.Should().Be(0, "a cold silo takes no conversations");
        (cluster.Activity(0).Active + cluster.Activity(1).Active).Should().Be(12);

        await cluster.SiloGrain(2).WarmUpAsync(TestTimeout.Token);
        (await cluster.SiloGrain(2).GetStatusAsync(TestTimeout.Token)).State.Should().Be(SiloStatusReport.Active);
        (await cluster.SiloGrain(2).AnalyzeSentimentAsync(new SentimentRequest("好"), TestTimeout.Token)).SiloId
            .Should().Be(QwenTestCluster.SiloName(2));
    }

    [Fact]
    public async Task A_silo_grain_key_that_names_no_silo_is_refused()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var bad = () => cluster.Client.GetGrain<ISiloGrain>("not-a-silo").GetStatusAsync(TestTimeout.Token);
        var error = (await bad.Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        error.Message.Should().Be("'not-a-silo' is not a silo address");
    }

    private static ChatGenerationRequest Chat(string text, int maxNewTokens) => new([new("user", text)], MaxNewTokens: maxNewTokens);

    private static async Task Drain<T>(IAsyncEnumerable<T> events)
    {
        await foreach (var _ in events) { }
    }

    private static async Task<GenerationSummary> Reply(ISiloGrain silo, ChatGenerationRequest request)
    {
        GenerationSummary? summary = null;
        await foreach (var e in silo.GenerateReplyAsync(request, TestTimeout.Token)) summary = e.Summary ?? summary;
        return summary ?? throw new InvalidOperationException("no summary");
    }

    private static async Task<Exception?> Outcome(Func<Task> call)
    {
        try
        {
            await call();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }
}
