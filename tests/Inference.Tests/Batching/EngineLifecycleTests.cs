using Xunit;
using System.Collections.Concurrent;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// The engine's life around the model steps: streaming, cancellation, deadlines, refusals,
/// failures that stay with their request, and shutdown. Step reports show when a sequence left.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class EngineLifecycleTests(TinyModels models)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private Inference.Engine.DecoderSession _session = models.Session("fp32");

    private Inference.Engine.DecoderSession Session => _session;

    /// <summary>Both engine paths: KV grids (standard layout) and KV slots (shared buffer).</summary>
    public static TheoryData<string> Layouts() => new("fp32", "shared-buffer");

    private void Use(string variant) => _session = models.Session(variant);

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task The_token_callback_and_the_stream_see_every_token_in_order(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session);
        var requests = Enumerable.Range(0, 4).Select(i => new GenerationRequest(RandomIds(60 + i, 3 + 4 * i), GenerationOptions.Greedy(10 + i))).ToArray();
        var solo = requests.Select(r => new Generator(Session).Generate(r.PromptIds, r.Options).Tokens).ToArray();

        var seen = requests.Select(_ => new List<int>()).ToArray();
        var results = await Task.WhenAll(requests.Select((r, i) => engine.GenerateAsync(r, onToken: seen[i].Add)));
        var streamed = await Task.WhenAll(requests.Select(async r =>
        {
            var tokens = new List<int>();
            await foreach (int token in engine.StreamAsync(r)) tokens.Add(token);
            return tokens;
        }));

        for (int i = 0; i < requests.Length; i++)
        {
            results[i].Tokens.Should().Equal(solo[i]);
            seen[i].Should().Equal(solo[i]);
            streamed[i].Should().Equal(solo[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task A_cancelled_generation_leaves_the_batch_at_the_next_step(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session);
        using var cancel = new CancellationTokenSource();
        var reports = new ConcurrentQueue<EngineStepReport>(); // written on the engine thread
        long cancelledAfter = 0;
        engine.StepCompleted += report =>
        {
            reports.Enqueue(report);
            // Between steps, once all three decode together: the victim's caller gives up.
            if (report.DecodeRows == 3 && cancelledAfter == 0 && reports.Count(r => r.DecodeRows == 3) == 3)
            {
                cancelledAfter = report.Step;
                cancel.Cancel();
            }
        };
        var requests = Enumerable.Range(0, 3).Select(i => new GenerationRequest(RandomIds(70 + i, 5 + i), GenerationOptions.Greedy(60))).ToArray();
        var victim = engine.GenerateAsync(requests[0], cancellationToken: cancel.Token);
        var others = requests.Skip(1).Select(r => engine.GenerateAsync(r)).ToArray();

        await victim.Invoking(t => t.WaitAsync(Patience)).Should().ThrowAsync<OperationCanceledException>();
        engine.RunningRequests.Should().Be(2, "the cancelled request stops counting as soon as its caller is answered");
        var results = await Task.WhenAll(others).WaitAsync(Patience);
        engine.RunningRequests.Should().Be(0);

        reports.Single(r => r.Step == cancelledAfter + 1).DecodeRows.Should().Be(2, "the cancelled sequence's row is removed before the next step");
        for (int i = 1; i < 3; i++)
            results[i - 1].Tokens.Should().Equal(new Generator(Session).Generate(requests[i].PromptIds, requests[i].Options).Tokens);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task A_request_past_its_deadline_leaves_with_a_deadline_error_and_the_others_go_on(string variant)
    {
        Use(variant);
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var engine = new BatchingEngine(Session, timeProvider: clock);
        var reports = new ConcurrentQueue<EngineStepReport>(); // written on the engine thread
        long expiredAfter = 0;
        engine.StepCompleted += report =>
        {
            reports.Enqueue(report);
            if (report.DecodeRows == 2 && expiredAfter == 0)
            {
                expiredAfter = report.Step;
                clock.Advance(TimeSpan.FromMinutes(2));
            }
        };
        var late = new GenerationRequest(RandomIds(80, 6), GenerationOptions.Greedy(60));
        var onTime = new GenerationRequest(RandomIds(81, 9), GenerationOptions.Greedy(30));
        var deadline = new SubmitOptions { Deadline = clock.GetUtcNow().AddMinutes(1) };
        var lateTask = engine.GenerateAsync(late, deadline);
        var onTimeTask = engine.GenerateAsync(onTime);

        await lateTask.Invoking(t => t.WaitAsync(Patience)).Should().ThrowAsync<RequestDeadlineExceededException>();
        (await onTimeTask.WaitAsync(Patience)).Tokens.Should().Equal(new Generator(Session).Generate(onTime.PromptIds, onTime.Options).Tokens);
        reports.Single(r => r.Step == expiredAfter + 1).DecodeRows.Should().Be(1);

        var tokens = new List<int>();
        var alreadyLate = engine.GenerateAsync(late, deadline, tokens.Add);
        await alreadyLate.Invoking(t => t.WaitAsync(Patience)).Should().ThrowAsync<RequestDeadlineExceededException>();
        tokens.Should().BeEmpty("a request whose deadline passed before it started never runs");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Beyond_the_queue_bound_requests_are_refused_at_once_and_accepted_again_when_it_drains(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session, new BatchingOptions { MaxBatchSize = 1, MaxQueueLength = 2 });
        using var gate = new EngineGate(engine);
        var queued = Enumerable.Range(0, 2).Select(i => engine.GenerateAsync(new GenerationRequest(RandomIds(90 + i, 4), GenerationOptions.Greedy(3)))).ToArray();
        engine.WaitingRequests.Should().Be(2);
        engine.RunningRequests.Should().Be(1, "the gate's request");

        var refused = engine.GenerateAsync(new GenerationRequest(RandomIds(92, 4), GenerationOptions.Greedy(3)));
        refused.IsFaulted.Should().BeTrue("the refusal comes before any model work");
        await refused.Invoking(t => t).Should().ThrowAsync<EngineOverloadedException>();
        await engine.ScoreAsync(RandomIds(93, 4), [[1], [2]]).Invoking(t => t).Should().ThrowAsync<EngineOverloadedException>();

        gate.Open();
        await gate.Blocked.WaitAsync(Patience);
        await Task.WhenAll(queued).WaitAsync(Patience);
        (await engine.GenerateAsync(new GenerationRequest(RandomIds(94, 4), GenerationOptions.Greedy(3))).WaitAsync(Patience)).Tokens.Should().HaveCount(3);
        engine.WaitingRequests.Should().Be(0);
        engine.RunningRequests.Should().Be(0);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Counts_are_settled_by_the_time_the_caller_has_its_answer(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session);
        for (int i = 0; i < 40; i++)
        {
            await engine.GenerateAsync(new GenerationRequest(RandomIds(120 + i, 3), GenerationOptions.Greedy(1))).WaitAsync(Patience);
            engine.RunningRequests.Should().Be(0, "request {0} was answered", i);
            engine.WaitingRequests.Should().Be(0);
            await engine.ScoreAsync(RandomIds(200 + i, 3), [[1], [2]]).WaitAsync(Patience);
            engine.RunningRequests.Should().Be(0, "scoring {0} was answered", i);
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Scoring_waiting_behind_chat_starts_first(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session, new BatchingOptions { MaxBatchSize = 1 });
        using var gate = new EngineGate(engine);
        Task? scoring = null;
        bool? scoringDoneAtFirstChatToken = null;
        var chat = engine.GenerateAsync(new GenerationRequest(RandomIds(110, 5), GenerationOptions.Greedy(3)),
            onToken: _ => scoringDoneAtFirstChatToken ??= scoring!.IsCompleted);
        scoring = engine.ScoreAsync(RandomIds(111, 5), [[1], [2, 3]]);

        gate.Open();
        await Task.WhenAll(chat, scoring).WaitAsync(Patience);
        await gate.Blocked.WaitAsync(Patience);
        scoringDoneAtFirstChatToken.Should().BeTrue("scoring has high priority by default, so it ran before the chat that came first");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task A_request_cancelled_while_waiting_is_answered_at_once_and_never_runs(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session, new BatchingOptions { MaxBatchSize = 1 });
        using var gate = new EngineGate(engine);
        using var cancel = new CancellationTokenSource();
        var tokens = new List<int>();
        var waiting = engine.GenerateAsync(new GenerationRequest(RandomIds(95, 4), GenerationOptions.Greedy(3)), onToken: tokens.Add,
            cancellationToken: cancel.Token);

        await cancel.CancelAsync();
        await waiting.Invoking(t => t.WaitAsync(Patience)).Should().ThrowAsync<OperationCanceledException>("the engine thread is still blocked");
        gate.Open();
        await gate.Blocked.WaitAsync(Patience);
        tokens.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task A_failing_token_callback_fails_its_own_request_only(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session);
        var good = new GenerationRequest(RandomIds(96, 7), GenerationOptions.Greedy(12));
        var failing = engine.GenerateAsync(new GenerationRequest(RandomIds(97, 5), GenerationOptions.Greedy(12)),
            onToken: _ => throw new InvalidOperationException("consumer broke"));
        var goodTask = engine.GenerateAsync(good);

        await failing.Invoking(t => t.WaitAsync(Patience)).Should().ThrowAsync<InvalidOperationException>().WithMessage("consumer broke");
        (await goodTask.WaitAsync(Patience)).Tokens.Should().Equal(new Generator(Session).Generate(good.PromptIds, good.Options).Tokens);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Invalid_requests_fail_with_an_argument_error_before_they_are_queued(string variant)
    {
        Use(variant);
        using var engine = new BatchingEngine(Session, new BatchingOptions { KvBudgetTokens = 100 });
        await engine.GenerateAsync(new GenerationRequest([], GenerationOptions.Greedy(3))).Invoking(t => t)
            .Should().ThrowAsync<ArgumentException>().WithMessage("*prompt is empty*");
        await engine.GenerateAsync(new GenerationRequest(RandomIds(98, 60), GenerationOptions.Greedy(50))).Invoking(t => t)
            .Should().ThrowAsync<ArgumentException>().WithMessage("*110 KV positions*");
        await engine.ScoreAsync(RandomIds(99, 3), [[1]]).Invoking(t => t)
            .Should().ThrowAsync<ArgumentException>().WithMessage("*at least two candidate labels*");
        engine.WaitingRequests.Should().Be(0);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Disposal_stops_the_loop_and_fails_every_unfinished_request(string variant)
    {
        Use(variant);
        var engine = new BatchingEngine(Session, new BatchingOptions { MaxBatchSize = 2 });
        using var running = new SemaphoreSlim(0);
        engine.StepCompleted += report =>
        {
            if (report.DecodeRows == 2) running.Release();
        };
        var requests = Enumerable.Range(0, 3)
            .Select(i => engine.GenerateAsync(new GenerationRequest(RandomIds(100 + i, 4), GenerationOptions.Greedy(2000))))
            .ToArray();
        (await running.WaitAsync(Patience)).Should().BeTrue();

        await Task.Run(engine.Dispose).WaitAsync(Patience);

        foreach (var request in requests)
            await request.Invoking(t => t.WaitAsync(Patience)).Should().ThrowAsync<ObjectDisposedException>();
        await engine.GenerateAsync(new GenerationRequest([1], GenerationOptions.Greedy(1))).Invoking(t => t)
            .Should().ThrowAsync<ObjectDisposedException>();
        engine.Dispose();
    }

    /// <summary>Holds the engine thread inside a token callback until opened, so requests pile up in the queue.</summary>
    private sealed class EngineGate : IDisposable
    {
        private readonly ManualResetEventSlim _open = new();
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EngineGate(BatchingEngine engine)
        {
            Blocked = engine.GenerateAsync(new GenerationRequest([11, 12, 13], GenerationOptions.Greedy(2)), onToken: _ =>
            {
                _entered.TrySetResult();
                _open.Wait();
            });
            _entered.Task.Wait(Patience);
        }

        /// <summary>The blocking request itself.</summary>
        public Task<GenerationResult> Blocked { get; }

        public void Open() => _open.Set();

        public void Dispose()
        {
            _open.Set();
            _open.Dispose();
        }
    }
}
