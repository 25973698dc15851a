using Xunit;
using FluentAssertions;
using Qwen.Inference.Prompts;
using Qwen.Inference.Tests.Tokenization;

namespace Qwen.Inference.Tests.Prompts;

/// <summary>Fitting chat history into context_window − max_new_tokens, at and around the boundaries.</summary>
public sealed class ChatPromptTests
{
    private const int MaxNew = 16;
    private static readonly ChatTemplate Template = new();
    private static readonly ChatPromptOptions Options = new() { SystemMessage = "You are friendly." };
    private static readonly ChatPrompt Chat = new(ReferenceVectors.Tokenizer, Template, Options);

    private static readonly ChatMessage[] Conversation =
    [
        ChatMessage.User("第一个问题是什么？"), ChatMessage.Assistant("这是第一个回答。"),
        ChatMessage.User("Second question, please."), ChatMessage.Assistant("Second answer, with more words in it."),
        ChatMessage.User("最新的问题"),
    ];

    private static int[] Full(params ChatMessage[] messages) =>
        Template.Encode(ReferenceVectors.Tokenizer, [ChatMessage.System(Options.SystemMessage!), .. messages]);

    private static int TurnCost(params ChatMessage[] messages) => messages.Sum(m => ChatTemplate.EncodeMessage(ReferenceVectors.Tokenizer, m).Length);

    [Fact]
    public void Exactly_at_the_budget_nothing_is_dropped()
    {
        int[] full = Full(Conversation);
        var built = Chat.Build(Conversation, full.Length + MaxNew, MaxNew);
        built.Ids.Should().Equal(full);
        built.Truncation.Should().Be(PromptTruncation.None);
    }

    [Fact]
    public void One_token_over_drops_the_oldest_whole_turn()
    {
        int[] full = Full(Conversation);
        var built = Chat.Build(Conversation, full.Length + MaxNew - 1, MaxNew);
        built.Ids.Should().Equal(Full(Conversation[2..]));
        built.Truncation.Should().Be(new PromptTruncation(1, 0, TurnCost(Conversation[0], Conversation[1])));
    }

    [Fact]
    public void Only_the_system_message_and_the_newest_message_remain_when_no_turn_fits()
    {
        int[] minimal = Full(Conversation[^1]);
        var built = Chat.Build(Conversation, minimal.Length + MaxNew, MaxNew);
        built.Ids.Should().Equal(minimal);
        built.Truncation.DroppedTurns.Should().Be(2);
        built.Truncation.DroppedTokens.Should().Be(TurnCost(Conversation[..4]));
    }

    [Fact]
    public void A_single_huge_message_is_cut_from_the_front()
    {
        var tokenizer = ReferenceVectors.Tokenizer;
        string huge = string.Concat(Enumerable.Range(0, 400).Select(i => $"句子{i}很长。 "));
        ChatMessage[] conversation = [ChatMessage.User("old"), ChatMessage.Assistant("reply"), ChatMessage.User(huge)];
        const int window = 200;
        var built = Chat.Build(conversation, window, MaxNew);

        built.Ids.Length.Should().BeLessThanOrEqualTo(window - MaxNew).And.BeGreaterThan(window - MaxNew - 3);
        string text = tokenizer.Decode(built.Ids);
        text.Should().StartWith("<|im_start|>system\nYou are friendly.<|im_end|>\n<|im_start|>user\n").And.EndWith("<|im_end|>\n<|im_start|>assistant\n");
        string kept = text.Split("<|im_start|>user\n")[1].Split("<|im_end|>")[0];
        huge.Should().EndWith(kept);
        built.Truncation.DroppedTurns.Should().Be(1);
        built.Truncation.DroppedTokens.Should().Be(TurnCost(conversation[..2]) + tokenizer.CountTokens(huge, false) - tokenizer.CountTokens(kept, false));
    }

    [Fact]
    public void A_newest_message_that_exactly_fills_the_budget_is_kept_whole()
    {
        ChatMessage[] conversation = [ChatMessage.User("old"), ChatMessage.Assistant("reply"), ChatMessage.User("just this, exactly")];
        int[] minimal = Full(conversation[^1]);
        Chat.Build(conversation, minimal.Length + MaxNew, MaxNew).Truncation.DroppedTokens.Should().Be(TurnCost(conversation[..2]));
        Chat.Build(conversation, minimal.Length + MaxNew - 1, MaxNew).Ids.Length.Should().BeLessThan(minimal.Length);
    }

    [Fact]
    public void A_system_message_that_leaves_no_room_is_an_error()
    {
        var chat = new ChatPrompt(ReferenceVectors.Tokenizer, Template, new ChatPromptOptions { SystemMessage = string.Concat(Enumerable.Repeat("rule ", 100)) });
        var act = () => chat.Build([ChatMessage.User("hi")], 80, MaxNew);
        act.Should().Throw<ArgumentException>().WithMessage("*leaving no room for the user's message*");
    }

    [Fact]
    public void The_model_templates_default_is_used_when_no_system_message_is_configured()
    {
        var chat = new ChatPrompt(ReferenceVectors.Tokenizer, new ChatTemplate("Template default."), new ChatPromptOptions { SystemMessage = null });
        ReferenceVectors.Tokenizer.Decode(chat.Build([ChatMessage.User("hi")], 4096, MaxNew).Ids).Should().Contain("system\nTemplate default.");
        ReferenceVectors.Tokenizer.Decode(chat.Build([ChatMessage.User("hi")], 4096, MaxNew, "Per request.").Ids).Should().Contain("system\nPer request.");
    }

    [Fact]
    public void Malformed_conversations_and_budgets_are_rejected()
    {
        Chat.Invoking(c => c.Build([], 4096, MaxNew)).Should().Throw<ArgumentException>().WithMessage("*end with the user's new message*");
        Chat.Invoking(c => c.Build([ChatMessage.User("a"), ChatMessage.Assistant("b")], 4096, MaxNew)).Should().Throw<ArgumentException>();
        Chat.Invoking(c => c.Build([ChatMessage.System("s"), ChatMessage.User("a")], 4096, MaxNew)).Should().Throw<ArgumentException>().WithMessage("*not 'system'*");
        Chat.Invoking(c => c.Build([ChatMessage.User("a")], 64, 64)).Should().Throw<ArgumentException>().WithMessage("*leaves no room*");
    }
}
