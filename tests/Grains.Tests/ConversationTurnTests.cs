using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Xunit;

namespace Qwen.Grains.Tests;

/// <summary>Conversation turns end to end through Orleans on the tiny model: replies, storage, history, idempotency, bad input.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ConversationTurnTests(TinyModelFixture model)
{
    [Fact]
    public async Task A_turn_returns_the_reply_and_stores_it()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var result = await cluster.Conversation("alice").SendMessageAsync(new ChatTurnRequest("t1", "你好，今天天气怎么样？"), TestTimeout.Token);

        result.UserId.Should().Be("alice");
        result.TurnId.Should().Be("t1");
        result.TurnNumber.Should().Be(1);
        result.SiloId.Should().Be(QwenTestCluster.SiloName(0));
        result.PromptTokens.Should().BeGreaterThan(10);
        result.CompletionTokens.Should().BeInRange(1, 6);
        result.FinishReason.Should().BeOneOf("stop", "length");
        var stored = await cluster.StoredTurnsAsync("alice");
        stored.Should().ContainSingle();
        stored[0].TurnId.Should().Be("t1");
        stored[0].UserMessage.Should().Be("你好，今天天气怎么样？");
        stored[0].AssistantReply.Should().Be(result.Reply);
        (await cluster.Conversation("alice").GetHistoryAsync(TestTimeout.Token)).Version.Should().Be(1);
    }

    [Fact]
    public async Task History_keeps_three_turns_in_order_and_each_prompt_carries_the_earlier_turns()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var grain = cluster.Conversation("bob");
        var replies = new List<string>();
        foreach (var (id, text) in new[] { ("a", "first"), ("b", "second"), ("c", "third") })
            replies.Add((await grain.SendMessageAsync(new ChatTurnRequest(id, text), TestTimeout.Token)).Reply);

        var history = await grain.GetHistoryAsync(TestTimeout.Token);
        history.UserId.Should().Be("bob");
        history.Version.Should().Be(3);
        history.Messages.Should().Equal(
            new ConversationMessage("user", "first"), new ConversationMessage("assistant", replies[0]),
            new ConversationMessage("user", "second"), new ConversationMessage("assistant", replies[1]),
            new ConversationMessage("user", "third"), new ConversationMessage("assistant", replies[2]));
        var requests = cluster.Observer.RequestsOf("bob");
        requests.Select(r => r.Messages.Length).Should().Equal(1, 3, 5);
        requests[2].Messages.Should().Equal(history.Messages.Take(5));
    }

    [Fact]
    public async Task Greedy_replies_are_the_same_in_another_cluster_and_after_a_restart_on_the_same_storage()
    {
        string[] messages = ["Hello there", "How are you?", "讲个故事吧"];
        var store = new InMemoryTestConversationStore();
        var first = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        await using var second = await QwenTestCluster.StartAsync(model);
        var firstReplies = new List<string>();
        var secondReplies = new List<string>();
        try
        {
            for (int i = 0; i < messages.Length; i++)
            {
                var request = new ChatTurnRequest($"t{i}", messages[i]);
                firstReplies.Add((await first.Conversation("carol").SendMessageAsync(request, TestTimeout.Token)).Reply);
                secondReplies.Add((await second.Conversation("carol").SendMessageAsync(request, TestTimeout.Token)).Reply);
            }
        }
        finally
        {
            await first.DisposeAsync();
        }
        secondReplies.Should().Equal(firstReplies);

        // A restart: a new cluster over the first one's storage carries on where it stopped.
        await using var restarted = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        var history = await restarted.Conversation("carol").GetHistoryAsync(TestTimeout.Token);
        history.Messages.Where(m => m.Role == "assistant").Select(m => m.Content).Should().Equal(firstReplies);
        var afterRestart = await restarted.Conversation("carol").SendMessageAsync(new ChatTurnRequest("t3", "谢谢"), TestTimeout.Token);
        var uninterrupted = await second.Conversation("carol").SendMessageAsync(new ChatTurnRequest("t3", "谢谢"), TestTimeout.Token);
        afterRestart.TurnNumber.Should().Be(4);
        afterRestart.Reply.Should().Be(uninterrupted.Reply);
        restarted.Observer.RequestsOf("carol").Single().Messages
            .Should().HaveCount(7, "the restarted cluster's prompt carries the three stored turns");
    }

    [Fact]
    public async Task A_retried_turn_id_returns_the_stored_turn_without_running_or_writing_it_again()
    {
        var store = new InMemoryTestConversationStore();
        var original = default(ChatTurnResult);
        await using (var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store }))
        {
            var grain = cluster.Conversation("dave");
            original = await grain.SendMessageAsync(new ChatTurnRequest("turn-1", "hi"), TestTimeout.Token);
            await grain.SendMessageAsync(new ChatTurnRequest("turn-2", "again"), TestTimeout.Token);

            var retry = await grain.SendMessageAsync(new ChatTurnRequest("turn-1", "hi"), TestTimeout.Token);

            retry.Reply.Should().Be(original.Reply);
            retry.TurnNumber.Should().Be(1);
            retry.FinishReason.Should().Be(ConversationGrain.StoredFinishReason);
            cluster.Observer.Generations.Should().HaveCount(2);
            store.Appends.Should().Be(2);

            var reused = () => grain.SendMessageAsync(new ChatTurnRequest("turn-1", "something else"), TestTimeout.Token);
            var error = (await reused.Should().ThrowAsync<GrainCallException>()).Which;
            error.Kind.Should().Be(GrainErrorKind.InvalidRequest);
            error.Message.Should().Be("turn id 'turn-1' was already used for a different message");
        }

        // Another cluster that loads the conversation from storage answers the retry the same way, streamed too.
        await using var other = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        var events = new List<ChatStreamEvent>();
        await foreach (var e in other.Conversation("dave").StreamMessageAsync(new ChatTurnRequest("turn-1", "hi"), TestTimeout.Token)) events.Add(e);
        events.Should().HaveCount(2);
        events[0].TextDelta.Should().Be(original!.Reply);
        events[1].Completed!.FinishReason.Should().Be(ConversationGrain.StoredFinishReason);
        events[1].Completed!.TurnNumber.Should().Be(1);
        other.Observer.Generations.Should().BeEmpty();
        store.Appends.Should().Be(2);
    }

    [Theory]
    [InlineData("", "the message is empty")]
    [InlineData("  \n ", "the message is empty")]
    [InlineData(null, "the message has 4001 characters; at most 4000 are allowed")]
    public async Task Empty_and_oversized_messages_are_invalid_and_change_nothing(string? content, string message)
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var send = () => cluster.Conversation("erin").SendMessageAsync(new ChatTurnRequest("t", content ?? new string('x', 4001)), TestTimeout.Token);

        var error = (await send.Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        error.Message.Should().Be(message);
        error.IsRetryable.Should().BeFalse();
        cluster.Observer.Generations.Should().BeEmpty();
        (await cluster.StoredTurnsAsync("erin")).Should().BeEmpty();
    }

    [Fact]
    public async Task Bad_turn_ids_user_ids_and_sampling_parameters_are_invalid_with_a_precise_message()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        async Task<GrainCallException> Fails(ChatTurnRequest request, string userId = "frank") =>
            (await cluster.Conversation(userId).Invoking(g => g.SendMessageAsync(request, TestTimeout.Token))
                .Should().ThrowAsync<GrainCallException>()).Which;

        var empty = await Fails(new ChatTurnRequest(" ", "hi"));
        empty.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        empty.Message.Should().Be("the turn id is empty");
        var user = await Fails(new ChatTurnRequest("t", "hi"), "bad user");
        user.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        user.Message.Should().Be("the user id contains ' ' at position 3; only ASCII letters, digits and - _ . @ are allowed");
        (await cluster.Conversation("bad user").Invoking(g => g.GetHistoryAsync(TestTimeout.Token)).Should().ThrowAsync<GrainCallException>())
            .Which.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        (await Fails(new ChatTurnRequest(new string('t', 129), "hi"))).Message.Should().Be("the turn id has 129 characters; at most 128 are allowed");
        // These two are checked by the worker grain: the error crosses two grain calls with its kind.
        var temperature = await Fails(new ChatTurnRequest("t", "hi", Temperature: 3f));
        temperature.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        temperature.Message.Should().Be("temperature must be in [0, 2] (0 means greedy) but was 3");
        (await Fails(new ChatTurnRequest("t", "hi", MaxNewTokens: 65))).Message.Should().Be("max_new_tokens must be in [1, 64] but was 65");
        (await cluster.StoredTurnsAsync("frank")).Should().BeEmpty();
    }

    [Fact]
    public async Task Streaming_yields_the_reply_in_pieces_then_the_stored_turn()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var pieces = new List<string>();
        ChatTurnResult? completed = null;
        await foreach (var e in cluster.Conversation("gina").StreamMessageAsync(new ChatTurnRequest("s1", "tell me something"), TestTimeout.Token))
        {
            if (e.TextDelta is { } delta) pieces.Add(delta);
            completed = e.Completed ?? completed;
        }

        completed.Should().NotBeNull();
        string.Concat(pieces).Should().Be(completed!.Reply);
        (await cluster.StoredTurnsAsync("gina")).Single().AssistantReply.Should().Be(completed.Reply);
    }

    [Fact]
    public async Task Reset_empties_the_history_and_numbering_starts_again()
    {
        await using var cluster = await QwenTestCluster.StartAsync(model);
        var grain = cluster.Conversation("hank");
        await grain.SendMessageAsync(new ChatTurnRequest("1", "one"), TestTimeout.Token);
        await grain.ResetAsync(TestTimeout.Token);

        (await grain.GetHistoryAsync(TestTimeout.Token)).Messages.Should().BeEmpty();
        (await cluster.StoredTurnsAsync("hank")).Should().BeEmpty();
        (await grain.SendMessageAsync(new ChatTurnRequest("2", "two"), TestTimeout.Token)).TurnNumber.Should().Be(1);
        cluster.Observer.RequestsOf("hank")[^1].Messages.Should().ContainSingle();
    }

    [Fact]
    public async Task An_activation_deactivated_between_turns_reloads_the_history_from_storage()
    {
        var store = new InMemoryTestConversationStore();
        await using var cluster = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        var grain = cluster.Conversation("liam");
        var first = await grain.SendMessageAsync(new ChatTurnRequest("1", "before the nap"), TestTimeout.Token);
        store.Reads.Should().Be(1);

        await cluster.Cluster.DeactivateAsync(grain);
        var second = await grain.SendMessageAsync(new ChatTurnRequest("2", "after the nap"), TestTimeout.Token);

        store.Reads.Should().Be(2, "the new activation loads the history");
        second.TurnNumber.Should().Be(2);
        cluster.Observer.RequestsOf("liam")[^1].Messages.Select(m => m.Content).Should().Equal("before the nap", first.Reply, "after the nap");
    }
}
