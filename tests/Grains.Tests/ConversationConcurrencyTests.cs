using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Xunit;

namespace Qwen.Grains.Tests;

/// <summary>
/// One user's turns against each other and against other users, through Orleans: one at a time in
/// arrival order even when streamed (Orleans interleaves the steps of a streamed reply with other
/// calls), no cross-talk, and turns that are cancelled while waiting or running.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class ConversationConcurrencyTests(TinyModelFixture model)
{
    [Fact]
    public async Task Twenty_concurrent_sends_for_one_user_run_one_at_a_time_each_on_every_earlier_turn()
    {
        var store = new InMemoryTestConversationStore();
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        var grain = cluster.Conversation("jack");
        // Orleans does not promise that concurrent calls arrive in the order they were made: the turn
        // numbers say the order they ran in, and each turn must have seen all the turns before it.
        var sends = Enumerable.Range(0, 20).Select(i => grain.SendMessageAsync(new ChatTurnRequest($"t{i}", $"message {i}"), TestTimeout.Token))
            .ToArray();
        var results = await Task.WhenAll(sends);

        results.Select(r => r.TurnNumber).Should().BeEquivalentTo(Enumerable.Range(1, 20));
        var inOrder = results.OrderBy(r => r.TurnNumber).ToArray();
        cluster.Observer.MaxConcurrentGenerationsOf("jack").Should().Be(1);
        var requests = cluster.Observer.RequestsOf("jack");
        requests.Should().HaveCount(20);
        for (int i = 0; i < 20; i++)
        {
            requests[i].Messages.Should().HaveCount(2 * i + 1, "turn {0} sees every earlier turn complete", i + 1);
            requests[i].Messages[^1].Content.Should().Be($"message {inOrder[i].TurnId[1..]}");
        }
        var history = await grain.GetHistoryAsync(TestTimeout.Token);
        history.Messages.Where(m => m.Role == "user").Select(m => m.Content).Should().Equal(inOrder.Select(r => $"message {r.TurnId[1..]}"));
        history.Messages.Where(m => m.Role == "assistant").Select(m => m.Content).Should().Equal(inOrder.Select(r => r.Reply));
        requests[19].Messages.Should().Equal(history.Messages.SkipLast(1));
        store.Appends.Should().Be(20);
    }

    [Fact]
    public async Task A_streamed_turn_holds_back_later_turns_of_the_same_user_until_it_has_completed()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var grain = cluster.Conversation("kim");
        var activity = cluster.Activity(0);

        await using var first = grain.StreamMessageAsync(new ChatTurnRequest("1", "tell me a story"), TestTimeout.Token).GetAsyncEnumerator();
        (await first.MoveNextAsync()).Should().BeTrue();
        first.Current.TextDelta.Should().NotBeNullOrEmpty("the first event of a generated reply is a piece of it");

        // While the first turn is parked mid-reply, a whole send and another stream for the same user arrive.
        var second = grain.SendMessageAsync(new ChatTurnRequest("2", "and then?"), TestTimeout.Token);
        await TestTimeout.UntilAsync(() => activity.WaitingTurns == 1, TimeSpan.FromSeconds(30), "the second turn waits for the first");
        var third = Collect(grain.StreamMessageAsync(new ChatTurnRequest("3", "the end?"), TestTimeout.Token));
        await TestTimeout.UntilAsync(() => activity.WaitingTurns == 2, TimeSpan.FromSeconds(30), "the third turn waits too");
        cluster.Observer.RequestsOf("kim").Should().HaveCount(1, "no later turn started generating while the first one streams");
        second.IsCompleted.Should().BeFalse();

        var reply = new List<string> { first.Current.TextDelta! };
        ChatTurnResult? firstResult = null;
        while (await first.MoveNextAsync())
        {
            if (first.Current.TextDelta is { } delta) reply.Add(delta);
            firstResult = first.Current.Completed ?? firstResult;
        }
        var secondResult = await second;
        var thirdResult = (await third).Single(e => e.Completed is not null).Completed!;

        firstResult!.Reply.Should().Be(string.Concat(reply));
        new[] { firstResult.TurnNumber, secondResult.TurnNumber, thirdResult.TurnNumber }.Should().Equal(1, 2, 3);
        cluster.Observer.MaxConcurrentGenerationsOf("kim").Should().Be(1);
        var requests = cluster.Observer.RequestsOf("kim");
        requests.Select(r => r.Messages.Select(m => m.Content)).Should().BeEquivalentTo(new[]
        {
            new[] { "tell me a story" },
            new[] { "tell me a story", firstResult.Reply, "and then?" },
            new[] { "tell me a story", firstResult.Reply, "and then?", secondResult.Reply, "the end?" },
        }, o => o.WithStrictOrdering());
        activity.WaitingTurns.Should().Be(0);
        activity.RunningTurns.Should().Be(0);
    }

    [Fact]
    public async Task A_history_read_during_a_turn_write_does_not_make_the_next_turn_build_on_a_stale_copy()
    {
        var store = new InMemoryTestConversationStore();
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        var grain = cluster.Conversation("lena");

        // The first turn's write is held; a history read (interleaved with the streamed turn) starts meanwhile and is held too.
        store.AppendDoor.Hold();
        var first = Collect(grain.StreamMessageAsync(new ChatTurnRequest("1", "first"), TestTimeout.Token));
        await store.AppendDoor.WaitForArrivalAsync(TestTimeout.Token);
        store.ReadDoor.Hold();
        var history = grain.GetHistoryAsync(TestTimeout.Token);
        await store.ReadDoor.WaitForArrivalAsync(TestTimeout.Token);
        // The write lands and the turn completes; only then does the read (from before the write) return.
        store.AppendDoor.Release();
        var firstResult = (await first).Single(e => e.Completed is not null).Completed!;
        store.ReadDoor.Release();
        await history;

        var second = await grain.SendMessageAsync(new ChatTurnRequest("2", "second"), TestTimeout.Token);
        second.TurnNumber.Should().Be(2);
        cluster.Observer.RequestsOf("lena")[^1].Messages.Select(m => m.Content).Should().Equal("first", firstResult.Reply, "second");
        (await grain.GetHistoryAsync(TestTimeout.Token)).Version.Should().Be(2);
    }

    [Fact]
    public async Task Concurrent_users_on_three_silos_never_see_each_others_messages()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Silos = 3 });
        await cluster.WaitForPlacementViewAsync();
        string[] users = [.. Enumerable.Range(0, 12).Select(i => $"u{i}")];
        // Users at once, each user's turns one after another.
        await Task.WhenAll(users.Select(async user =>
        {
            for (int turn = 0; turn < 3; turn++)
                await cluster.Conversation(user).SendMessageAsync(new ChatTurnRequest($"{turn}", $"{user} says {turn}"), TestTimeout.Token);
        }));

        Enumerable.Range(0, 3).Sum(i => cluster.Activity(i).Active).Should().Be(users.Length);
        Enumerable.Range(0, 3).Count(i => cluster.Activity(i).Active > 0).Should().BeGreaterThan(1, "conversations are spread over the silos");
        foreach (string user in users)
        {
            var history = await cluster.Conversation(user).GetHistoryAsync(TestTimeout.Token);
            history.Messages.Where(m => m.Role == "user").Select(m => m.Content).Should().Equal($"{user} says 0", $"{user} says 1", $"{user} says 2");
            cluster.Observer.RequestsOf(user).Should().HaveCount(3);
        }
        foreach (var generation in cluster.Observer.Generations)
        {
            generation.Request.Messages.Where(m => m.Role == "user")
                .Should().OnlyContain(m => m.Content.StartsWith(generation.UserId + " says", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_turn_cancelled_while_waiting_leaves_without_running()
    {
        var store = new InMemoryTestConversationStore();
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        var grain = cluster.Conversation("rosa");
        cluster.Observer.Hold();
        var running = grain.SendMessageAsync(new ChatTurnRequest("1", "first"), TestTimeout.Token);
        await cluster.Observer.WaitForGenerationAsync(TestTimeout.Token);
        using var cancel = new CancellationTokenSource();
        var waiting = Collect(grain.StreamMessageAsync(new ChatTurnRequest("2", "never runs"), cancel.Token));
        await TestTimeout.UntilAsync(() => cluster.Activity(0).WaitingTurns == 1, TimeSpan.FromSeconds(30), "the second turn waits");

        await cancel.CancelAsync();
        await waiting.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        await TestTimeout.UntilAsync(() => cluster.Activity(0).WaitingTurns == 0, TimeSpan.FromSeconds(30), "the cancelled turn leaves the gate");
        running.IsCompleted.Should().BeFalse();

        cluster.Observer.Release();
        (await running).TurnNumber.Should().Be(1);
        (await grain.SendMessageAsync(new ChatTurnRequest("3", "next"), TestTimeout.Token)).TurnNumber.Should().Be(2);
        cluster.Observer.RequestsOf("rosa").Select(r => r.Messages[^1].Content).Should().Equal("first", "next");
        (await cluster.StoredTurnsAsync("rosa")).Select(t => t.TurnId).Should().Equal("1", "3");
    }

    [Fact]
    public async Task A_turn_whose_deadline_passes_while_waiting_fails_as_timeout_without_running()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var grain = cluster.Conversation("tess");
        cluster.Observer.Hold();
        var running = grain.SendMessageAsync(new ChatTurnRequest("1", "first"), TestTimeout.Token);
        await cluster.Observer.WaitForGenerationAsync(TestTimeout.Token);

        // The first turn is held inside the worker, so this one can only wait behind it until its deadline.
        var late = grain.SendMessageAsync(new ChatTurnRequest("2", "too late") { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(300) },
            TestTimeout.Token);
        var error = (await late.Invoking(t => t).Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.Timeout);
        error.Message.Should().Contain("deadline passed while an earlier turn");
        cluster.Activity(0).WaitingTurns.Should().Be(0);

        cluster.Observer.Release();
        (await running).TurnNumber.Should().Be(1);
        cluster.Observer.RequestsOf("tess").Select(r => r.Messages[^1].Content).Should().Equal("first");
        (await cluster.StoredTurnsAsync("tess")).Select(t => t.TurnId).Should().Equal("1");
    }

    [Fact]
    public async Task A_running_turn_cancelled_by_its_caller_stores_nothing()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var grain = cluster.Conversation("sam");
        cluster.Observer.Hold();
        using var cancel = new CancellationTokenSource();
        var running = grain.SendMessageAsync(new ChatTurnRequest("1", "abandoned"), cancel.Token);
        await cluster.Observer.WaitForGenerationAsync(TestTimeout.Token);

        await cancel.CancelAsync();
        await running.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        cluster.Observer.Release();
        await TestTimeout.UntilAsync(() => cluster.Activity(0).RunningTurns == 0, TimeSpan.FromSeconds(30), "the cancelled turn ends");
        (await cluster.StoredTurnsAsync("sam")).Should().BeEmpty();
        (await grain.SendMessageAsync(new ChatTurnRequest("2", "kept"), TestTimeout.Token)).TurnNumber.Should().Be(1);
    }

    private static async Task<List<ChatStreamEvent>> Collect(IAsyncEnumerable<ChatStreamEvent> events)
    {
        var list = new List<ChatStreamEvent>();
        await foreach (var e in events) list.Add(e);
        return list;
    }
}
