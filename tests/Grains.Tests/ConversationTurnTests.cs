using Xunit;
using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;

namespace Qwen.Grains.Tests;

/// <summary>Conversation turns end to end on the tiny model: replies, storage, history, idempotency, bad input.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ConversationTurnTests(TinyModelFixture model)
{
    [Fact]
    public async Task A_turn_returns_the_reply_and_stores_it()
    {
        await using var silo = new TestSilo(model);
        var result = await silo.Conversation("alice").SendMessageAsync(new ChatTurnRequest("t1", "你好，今天天气怎么样？"), TestTimeout.Token);

        result.UserId.Should().Be("alice");
        result.TurnId.Should().Be("t1");
        result.TurnNumber.Should().Be(1);
        result.SiloId.Should().Be("silo-test");
        result.PromptTokens.Should().BeGreaterThan(10);
        result.CompletionTokens.Should().BeInRange(1, 6);
        result.FinishReason.Should().BeOneOf("stop", "length");
        var stored = await silo.Store.ReadAsync("alice", CancellationToken.None);
        stored.Version.Should().Be(1);
        stored.Turns.Should().ContainSingle();
        stored.Turns[0].TurnId.Should().Be("t1");
        stored.Turns[0].UserMessage.Should().Be("你好，今天天气怎么样？");
        stored.Turns[0].AssistantReply.Should().Be(result.Reply);
    }

    [Fact]
    public async Task History_keeps_three_turns_in_order_and_each_prompt_carries_the_earlier_turns()
    {
        await using var silo = new TestSilo(model);
        var grain = silo.Conversation("bob");
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
        silo.Worker.Requests.Select(r => r.Messages.Count).Should().Equal(1, 3, 5);
        silo.Worker.Requests[2].Messages.Should().Equal(history.Messages.Take(5));
    }

    [Fact]
    public async Task Greedy_replies_are_the_same_in_a_fresh_runtime_and_after_a_restart_on_the_same_storage()
    {
        string[] messages = ["Hello there", "How are you?", "讲个故事吧"];
        await using var first = new TestSilo(model, siloId: "silo-a");
        await using var second = new TestSilo(model, siloId: "silo-b");
        var firstReplies = new List<string>();
        var secondReplies = new List<string>();
        for (int i = 0; i < messages.Length; i++)
        {
            firstReplies.Add((await first.Conversation("carol").SendMessageAsync(new ChatTurnRequest($"t{i}", messages[i]), TestTimeout.Token)).Reply);
            secondReplies.Add((await second.Conversation("carol").SendMessageAsync(new ChatTurnRequest($"t{i}", messages[i]), TestTimeout.Token)).Reply);
        }
        secondReplies.Should().Equal(firstReplies);

        // A restart: a new runtime and worker over the first silo's storage carries on where it stopped.
        await using var restarted = new TestSilo(model, first.Store, siloId: "silo-a2");
        var history = await restarted.Conversation("carol").GetHistoryAsync(TestTimeout.Token);
        history.Messages.Where(m => m.Role == "assistant").Select(m => m.Content).Should().Equal(firstReplies);
        var afterRestart = await restarted.Conversation("carol").SendMessageAsync(new ChatTurnRequest("t3", "谢谢"), TestTimeout.Token);
        var uninterrupted = await second.Conversation("carol").SendMessageAsync(new ChatTurnRequest("t3", "谢谢"), TestTimeout.Token);
        afterRestart.TurnNumber.Should().Be(4);
        afterRestart.Reply.Should().Be(uninterrupted.Reply);
        afterRestart.SiloId.Should().Be("silo-a2");
    }

    [Fact]
    public async Task A_retried_turn_id_returns_the_stored_turn_without_running_or_writing_it_again()
    {
        await using var silo = new TestSilo(model);
        var grain = silo.Conversation("dave");
        var original = await grain.SendMessageAsync(new ChatTurnRequest("turn-1", "hi"), TestTimeout.Token);
        await grain.SendMessageAsync(new ChatTurnRequest("turn-2", "again"), TestTimeout.Token);

        var retry = await grain.SendMessageAsync(new ChatTurnRequest("turn-1", "hi"), TestTimeout.Token);

        retry.Reply.Should().Be(original.Reply);
        retry.TurnNumber.Should().Be(1);
        retry.FinishReason.Should().Be(ConversationGrain.StoredFinishReason);
        silo.Worker.Generations.Should().Be(2);
        silo.TestStore.Appends.Should().Be(2);

        // A different silo that loads the conversation from storage answers the retry the same way.
        await using var other = new TestSilo(model, silo.Store);
        var elsewhere = await other.Conversation("dave").SendMessageAsync(new ChatTurnRequest("turn-1", "hi"), TestTimeout.Token);
        elsewhere.Reply.Should().Be(original.Reply);
        other.Worker.Generations.Should().Be(0);
        silo.TestStore.Appends.Should().Be(2);

        var reused = () => grain.SendMessageAsync(new ChatTurnRequest("turn-1", "something else"), TestTimeout.Token);
        (await reused.Should().ThrowAsync<GrainCallException>()).Which.Kind.Should().Be(GrainErrorKind.InvalidRequest);
    }

    [Theory]
    [InlineData("", "the message is empty")]
    [InlineData("  \n ", "the message is empty")]
    [InlineData(null, "the message has 4001 characters; at most 4000 are allowed")]
    public async Task Empty_and_oversized_messages_are_invalid_and_change_nothing(string? content, string message)
    {
        await using var silo = new TestSilo(model);
        var send = () => silo.Conversation("erin").SendMessageAsync(new ChatTurnRequest("t", content ?? new string('x', 4001)), TestTimeout.Token);

        var error = (await send.Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.InvalidRequest);
        error.Message.Should().Be(message);
        error.IsRetryable.Should().BeFalse();
        silo.Worker.Generations.Should().Be(0);
        silo.TestStore.Appends.Should().Be(0);
    }

    [Fact]
    public async Task Bad_turn_ids_user_ids_and_sampling_parameters_are_invalid()
    {
        await using var silo = new TestSilo(model);
        async Task<GrainCallException> Fails(string userId, ChatTurnRequest request) =>
            (await silo.Conversation(userId).Invoking(g => g.SendMessageAsync(request, TestTimeout.Token)).Should().ThrowAsync<GrainCallException>()).Which;

        (await Fails("frank", new ChatTurnRequest(" ", "hi"))).Message.Should().Be("the turn id is empty");
        (await Fails("bad user", new ChatTurnRequest("t", "hi"))).Message.Should().Contain("' ' at position 3");
        (await Fails("frank", new ChatTurnRequest("t", "hi", Temperature: 3f))).Message.Should().Be("temperature must be in [0, 2] (0 means greedy) but was 3");
        (await Fails("frank", new ChatTurnRequest("t", "hi", MaxNewTokens: 65))).Message.Should().Be("max_new_tokens must be in [1, 64] but was 65");
        silo.TestStore.Appends.Should().Be(0);
    }

    [Fact]
    public async Task Streaming_yields_the_reply_in_pieces_then_the_stored_turn()
    {
        await using var silo = new TestSilo(model);
        var pieces = new List<string>();
        ChatTurnResult? completed = null;
        await foreach (var e in silo.Conversation("gina").StreamMessageAsync(new ChatTurnRequest("s1", "tell me something"), TestTimeout.Token))
        {
            if (e.TextDelta is { } delta) pieces.Add(delta);
            completed = e.Completed ?? completed;
        }

        completed.Should().NotBeNull();
        string.Concat(pieces).Should().Be(completed!.Reply);
        (await silo.Store.ReadAsync("gina", CancellationToken.None)).Turns.Single().AssistantReply.Should().Be(completed.Reply);
    }

    [Fact]
    public async Task Reset_empties_the_history_and_numbering_starts_again()
    {
        await using var silo = new TestSilo(model);
        var grain = silo.Conversation("hank");
        await grain.SendMessageAsync(new ChatTurnRequest("1", "one"), TestTimeout.Token);
        await grain.ResetAsync(TestTimeout.Token);

        (await grain.GetHistoryAsync(TestTimeout.Token)).Messages.Should().BeEmpty();
        (await grain.SendMessageAsync(new ChatTurnRequest("2", "two"), TestTimeout.Token)).TurnNumber.Should().Be(1);
        silo.Worker.Requests[^1].Messages.Should().ContainSingle();
    }

    [Fact]
    public async Task A_stale_silo_is_refused_by_the_version_check_and_its_retry_builds_on_the_winner()
    {
        var store = new InMemoryTestConversationStore();
        await using var winner = new TestSilo(model, store, siloId: "silo-1");
        await using var stale = new TestSilo(model, store, siloId: "silo-2");
        await stale.Conversation("ivy").GetHistoryAsync(TestTimeout.Token); // activated at version 0
        await winner.Conversation("ivy").SendMessageAsync(new ChatTurnRequest("w", "from the owner"), TestTimeout.Token);

        var send = () => stale.Conversation("ivy").SendMessageAsync(new ChatTurnRequest("s", "from the stale silo"), TestTimeout.Token);
        var error = (await send.Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.NotOwner);
        error.IsRetryable.Should().BeTrue();
        store.Appends.Should().Be(1);

        var retried = await send();
        retried.TurnNumber.Should().Be(2);
        stale.Worker.Requests[^1].Messages.Select(m => m.Content).First().Should().Be("from the owner");
        (await store.ReadAsync("ivy", CancellationToken.None)).Turns.Select(t => t.TurnId).Should().Equal("w", "s");
    }
}
