using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Xunit;

namespace Qwen.Grains.Tests;

/// <summary>
/// Two activations of one conversation over the same storage (Orleans allows a brief duplicate
/// during membership changes; here two clusters share a store): the version check decides.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class MovedConversationTests(TinyModelFixture model)
{
    [Fact]
    public async Task A_stale_activation_is_refused_by_the_version_check_and_its_retry_builds_on_the_winner()
    {
        var store = new InMemoryTestConversationStore();
        await using var stale = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        await using var winner = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        var first = await stale.Conversation("ivy").SendMessageAsync(new ChatTurnRequest("1", "on the old silo"), TestTimeout.Token);
        var won = await winner.Conversation("ivy").SendMessageAsync(new ChatTurnRequest("w", "from the owner"), TestTimeout.Token);
        won.TurnNumber.Should().Be(2);

        var send = () => stale.Conversation("ivy").SendMessageAsync(new ChatTurnRequest("s", "from the stale silo"), TestTimeout.Token);
        var error = (await send.Should().ThrowAsync<GrainCallException>()).Which;
        error.Kind.Should().Be(GrainErrorKind.NotOwner);
        error.IsRetryable.Should().BeTrue();
        error.Message.Should().Be("conversation 'ivy' was changed by another writer since version 1; nothing was written, retry");
        store.Appends.Should().Be(2);

        var history = await stale.Conversation("ivy").GetHistoryAsync(TestTimeout.Token);
        history.Messages.Where(m => m.Role == ConversationMessage.User).Select(m => m.Content).Should().Equal("on the old silo", "from the owner");
        var retried = await send();
        retried.TurnNumber.Should().Be(3);
        stale.Observer.RequestsOf("ivy")[^1].Messages.Select(m => m.Content)
            .Should().Equal("on the old silo", first.Reply, "from the owner", won.Reply, "from the stale silo");
        (await store.ReadAsync("ivy", CancellationToken.None)).Turns.Select(t => t.TurnId).Should().Equal("1", "w", "s");
    }

    [Fact]
    public async Task A_retry_that_raced_its_first_attempt_elsewhere_is_answered_from_storage()
    {
        var store = new InMemoryTestConversationStore();
        await using var here = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        await using var there = await QwenTestCluster.StartAsync(model, new TestClusterSettings { Store = store });
        await here.Conversation("otto").GetHistoryAsync(TestTimeout.Token);
        var stored = await there.Conversation("otto").SendMessageAsync(new ChatTurnRequest("same", "hello"), TestTimeout.Token);

        // This activation read version 0 before the other stored the turn: its write is refused and the stored turn answers.
        var retried = await here.Conversation("otto").SendMessageAsync(new ChatTurnRequest("same", "hello"), TestTimeout.Token);

        retried.TurnNumber.Should().Be(1);
        retried.Reply.Should().Be(stored.Reply);
        store.Appends.Should().Be(1);
        (await store.ReadAsync("otto", CancellationToken.None)).Turns.Should().ContainSingle();
    }
}
