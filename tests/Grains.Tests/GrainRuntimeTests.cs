using Xunit;
using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Qwen.Silo.Runtime;

namespace Qwen.Grains.Tests;

/// <summary>The silo's grain runtime on the tiny model: turn order, isolation, limits, idle deactivation, drain, placement, cancellation.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class GrainRuntimeTests(TinyModelFixture model)
{
    [Fact]
    public async Task Twenty_concurrent_sends_for_one_user_run_one_at_a_time_in_arrival_order()
    {
        await using var silo = new TestSilo(model);
        var grain = silo.Conversation("jack");
        // Called one after another without awaiting: the call order is the arrival order.
        var sends = Enumerable.Range(0, 20).Select(i => grain.SendMessageAsync(new ChatTurnRequest($"t{i}", $"message {i}"), TestTimeout.Token)).ToArray();
        var results = await Task.WhenAll(sends);

        results.Select(r => r.TurnNumber).Should().Equal(Enumerable.Range(1, 20));
        silo.Worker.MaxConcurrentGenerations.Should().Be(1);
        var requests = silo.Worker.Requests;
        requests.Should().HaveCount(20);
        for (int i = 0; i < 20; i++)
        {
            requests[i].Messages.Should().HaveCount(2 * i + 1, "turn {0} sees every earlier turn complete", i);
            requests[i].Messages[^1].Content.Should().Be($"message {i}");
        }
        var history = await grain.GetHistoryAsync(TestTimeout.Token);
        history.Messages.Where(m => m.Role == "user").Select(m => m.Content).Should().Equal(Enumerable.Range(0, 20).Select(i => $"message {i}"));
        history.Messages.Where(m => m.Role == "assistant").Select(m => m.Content).Should().Equal(results.Select(r => r.Reply));
        silo.TestStore.Appends.Should().Be(20);
    }

    [Fact]
    public async Task Concurrent_users_never_see_each_others_messages()
    {
        await using var silo = new TestSilo(model);
        string[] users = ["u0", "u1", "u2", "u3", "u4", "u5"];
        var sends = Enumerable.Range(0, 3).SelectMany(turn => users.Select(user =>
            silo.Conversation(user).SendMessageAsync(new ChatTurnRequest($"{turn}", $"{user} says {turn}"), TestTimeout.Token))).ToArray();
        await Task.WhenAll(sends);

        silo.Table.ActiveConversations.Should().Be(users.Length);
        foreach (string user in users)
        {
            var history = await silo.Conversation(user).GetHistoryAsync(TestTimeout.Token);
            history.Messages.Where(m => m.Role == "user").Select(m => m.Content).Should().Equal($"{user} says 0", $"{user} says 1", $"{user} says 2");
        }
        foreach (var request in silo.Worker.Requests)
        {
            string owner = request.Messages[^1].Content.Split(' ')[0];
            request.Messages.Where(m => m.Role == "user").Should().OnlyContain(m => m.Content.StartsWith(owner + " says", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Sentiment_beyond_the_worker_queue_is_refused_as_overloaded_at_once()
    {
        // One request per model call, so the numbers below are exact (BatchedBackendTests covers batching).
        await using var silo = new TestSilo(model, inference: new InferenceWorkerOptions
        {
            Scheduling = InferenceScheduling.Sequential, MaxConcurrentRequests = 1, MaxQueueLength = 2,
        });
        var worker = silo.Factory.GetInferenceWorker();
        var calls = Enumerable.Range(0, 20).Select(i => Timed(() => worker.AnalyzeSentimentAsync(new SentimentRequest($"这家店的服务很好 {i}"), TestTimeout.Token))).ToArray();
        var outcomes = await Task.WhenAll(calls);

        var refused = outcomes.Where(o => o.Error is not null).ToArray();
        refused.Should().NotBeEmpty();
        refused.Select(o => (o.Error as GrainCallException)?.Kind).Should().OnlyContain(kind => kind == GrainErrorKind.Overloaded);
        var slowestAccepted = outcomes.Where(o => o.Error is null).Max(o => o.Elapsed);
        refused.Should().OnlyContain(o => o.Elapsed < slowestAccepted, "a refusal does not wait for the queued model work");
        outcomes.Length.Should().Be(20);
        outcomes.Count(o => o.Error is null).Should().BeGreaterThanOrEqualTo(3);
    }

    [Fact]
    public async Task Sends_beyond_the_conversation_queue_are_refused_as_overloaded()
    {
        await using var silo = new TestSilo(model, runtime: new GrainRuntimeOptions { MaxQueuedTurnsPerConversation = 2 });
        var grain = silo.Conversation("kate");
        silo.Worker.Hold();
        var running = grain.SendMessageAsync(new ChatTurnRequest("0", "running"), TestTimeout.Token);
        await silo.Worker.WaitForGenerationAsync(TestTimeout.Token);
        var queued = new[] { "1", "2" }.Select(id => grain.SendMessageAsync(new ChatTurnRequest(id, "queued"), TestTimeout.Token)).ToArray();

        var third = () => grain.SendMessageAsync(new ChatTurnRequest("3", "one too many"), TestTimeout.Token);
        (await third.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Overloaded);
        silo.Table.QueuedTurns.Should().Be(2);
        silo.Worker.Release();
        await Task.WhenAll([running, .. queued]);
        silo.TestStore.Appends.Should().Be(3);
    }

    [Fact]
    public async Task An_idle_activation_is_deactivated_and_the_next_call_reactivates_it_from_storage()
    {
        await using var silo = new TestSilo(model, conversations: new ConversationOptions { MaxNewTokens = 6, IdleTimeout = TimeSpan.FromMilliseconds(300) },
            runtime: new GrainRuntimeOptions { IdleSweepInterval = TimeSpan.FromMilliseconds(50) });
        await silo.Sweeper.StartAsync(CancellationToken.None);
        var grain = silo.Conversation("liam");
        var first = await grain.SendMessageAsync(new ChatTurnRequest("1", "before the nap"), TestTimeout.Token);
        silo.TestStore.Reads.Should().Be(1);

        await TestTimeout.UntilAsync(() => silo.Table.ActiveConversations == 0, TimeSpan.FromSeconds(10), "the idle activation is deactivated");
        var second = await grain.SendMessageAsync(new ChatTurnRequest("2", "after the nap"), TestTimeout.Token);

        silo.TestStore.Reads.Should().Be(2, "the new activation loads the history");
        second.TurnNumber.Should().Be(2);
        silo.Worker.Requests[^1].Messages.Select(m => m.Content).Should().Equal("before the nap", first.Reply, "after the nap");
        silo.Table.ActiveConversations.Should().Be(1);
    }

    [Fact]
    public async Task An_activation_with_a_running_or_queued_turn_is_never_deactivated()
    {
        await using var silo = new TestSilo(model, conversations: new ConversationOptions { MaxNewTokens = 6, IdleTimeout = TimeSpan.FromMilliseconds(100) },
            runtime: new GrainRuntimeOptions { IdleSweepInterval = TimeSpan.FromMilliseconds(20) });
        await silo.Sweeper.StartAsync(CancellationToken.None);
        var grain = silo.Conversation("mia");
        silo.Worker.Hold();
        var running = grain.SendMessageAsync(new ChatTurnRequest("1", "slow"), TestTimeout.Token);
        var queued = grain.SendMessageAsync(new ChatTurnRequest("2", "waiting"), TestTimeout.Token);
        await silo.Worker.WaitForGenerationAsync(TestTimeout.Token);

        await Task.Delay(500);
        silo.Table.ActiveConversations.Should().Be(1);
        silo.Worker.Release();
        (await queued).TurnNumber.Should().Be(2);
        (await running).TurnNumber.Should().Be(1);
        silo.TestStore.Reads.Should().Be(1, "both turns ran on the one activation");
    }

    [Fact]
    public async Task Draining_finishes_accepted_turns_and_refuses_new_calls()
    {
        await using var silo = new TestSilo(model);
        var grain = silo.Conversation("noah");
        silo.Worker.Hold();
        var accepted = Enumerable.Range(0, 3).Select(i => grain.SendMessageAsync(new ChatTurnRequest($"{i}", $"accepted {i}"), TestTimeout.Token)).ToArray();
        await silo.Worker.WaitForGenerationAsync(TestTimeout.Token);

        var drain = silo.Table.StopAcceptingAsync(TestTimeout.Token);
        var late = () => grain.SendMessageAsync(new ChatTurnRequest("late", "too late"), TestTimeout.Token);
        (await late.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Unavailable);
        var otherUser = () => silo.Conversation("olga").GetHistoryAsync(TestTimeout.Token);
        (await otherUser.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Unavailable);
        var sentiment = () => silo.Factory.GetInferenceWorker().AnalyzeSentimentAsync(new SentimentRequest("好"), TestTimeout.Token);
        (await sentiment.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.Unavailable);
        await Task.Delay(200);
        drain.IsCompleted.Should().BeFalse("three accepted turns are still queued or running");

        silo.Worker.Release();
        await drain;
        accepted.Should().OnlyContain(t => t.IsCompletedSuccessfully);
        (await silo.Store.ReadAsync("noah", CancellationToken.None)).Turns.Select(t => t.UserMessage).Should().Equal("accepted 0", "accepted 1", "accepted 2");
        silo.Table.ActiveConversations.Should().Be(0);
        silo.Admission.InFlight.Should().Be(0);
    }

    [Fact]
    public async Task Calls_for_a_user_owned_by_another_silo_are_refused_as_not_owner()
    {
        await using var silo = new TestSilo(model, placement: new DelegatePlacement(userId => userId != "paul"));
        var send = () => silo.Conversation("paul").SendMessageAsync(new ChatTurnRequest("1", "hello"), TestTimeout.Token);

        var error = (await send.Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.NotOwner);
        error.IsRetryable.Should().BeTrue();
        silo.Table.ActiveConversations.Should().Be(0);
        silo.Worker.Generations.Should().Be(0);
        (await silo.Conversation("quinn").SendMessageAsync(new ChatTurnRequest("1", "hello"), TestTimeout.Token)).TurnNumber.Should().Be(1);
    }

    [Fact]
    public async Task A_turn_cancelled_while_queued_leaves_the_queue_without_running()
    {
        await using var silo = new TestSilo(model);
        var grain = silo.Conversation("rosa");
        silo.Worker.Hold();
        var running = grain.SendMessageAsync(new ChatTurnRequest("1", "first"), TestTimeout.Token);
        await silo.Worker.WaitForGenerationAsync(TestTimeout.Token);
        using var cancel = new CancellationTokenSource();
        var queued = grain.SendMessageAsync(new ChatTurnRequest("2", "never runs"), cancel.Token);
        silo.Table.QueuedTurns.Should().Be(1);

        await cancel.CancelAsync();
        await queued.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        silo.Table.QueuedTurns.Should().Be(0);
        running.IsCompleted.Should().BeFalse();

        silo.Worker.Release();
        (await running).TurnNumber.Should().Be(1);
        (await grain.SendMessageAsync(new ChatTurnRequest("3", "next"), TestTimeout.Token)).TurnNumber.Should().Be(2);
        silo.Worker.Requests.Select(r => r.Messages[^1].Content).Should().Equal("first", "next");
        (await silo.Store.ReadAsync("rosa", CancellationToken.None)).Turns.Select(t => t.TurnId).Should().Equal("1", "3");
    }

    [Fact]
    public async Task A_running_turn_cancelled_by_its_caller_stores_nothing()
    {
        await using var silo = new TestSilo(model);
        var grain = silo.Conversation("sam");
        silo.Worker.Hold();
        using var cancel = new CancellationTokenSource();
        var running = grain.SendMessageAsync(new ChatTurnRequest("1", "abandoned"), cancel.Token);
        await silo.Worker.WaitForGenerationAsync(TestTimeout.Token);

        await cancel.CancelAsync();
        await running.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        silo.Worker.Release();
        silo.TestStore.Appends.Should().Be(0);
        (await grain.SendMessageAsync(new ChatTurnRequest("2", "kept"), TestTimeout.Token)).TurnNumber.Should().Be(1);
    }

    private static async Task<(Exception? Error, TimeSpan Elapsed)> Timed(Func<Task> call)
    {
        var started = DateTime.UtcNow;
        try
        {
            await call();
            return (null, DateTime.UtcNow - started);
        }
        catch (Exception e)
        {
            return (e, DateTime.UtcNow - started);
        }
    }
}
