using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Tests.Support;
using Xunit;

namespace Qwen.Grains.Tests;

/// <summary>A user placed on another silo and back (scale-out, then scale-in) before the old activation is swept.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class MovedConversationTests(TinyModelFixture model)
{
    [Fact]
    public async Task An_old_activation_answers_history_from_storage_and_refuses_to_overwrite_newer_turns()
    {
        var store = new InMemoryTestConversationStore();
        await using var first = new TestSilo(model, store, siloId: "silo-a");
        await using var second = new TestSilo(model, store, siloId: "silo-b");
        await first.Conversation("nora").SendMessageAsync(new ChatTurnRequest("1", "on a"), TestTimeout.Token);
        // The user moved to silo-b, which stored a turn; then back to silo-a, whose activation still holds one turn.
        var onB = await second.Conversation("nora").SendMessageAsync(new ChatTurnRequest("2", "on b"), TestTimeout.Token);
        onB.TurnNumber.Should().Be(2);

        var history = await first.Conversation("nora").GetHistoryAsync(TestTimeout.Token);
        history.Messages.Where(m => m.Role == ConversationMessage.User).Select(m => m.Content).Should().Equal("on a", "on b");
        var third = await first.Conversation("nora").SendMessageAsync(new ChatTurnRequest("3", "back on a"), TestTimeout.Token);
        third.TurnNumber.Should().Be(3, "the history read refreshed the activation");
    }
}
