using Xunit;
using FluentAssertions;
using Qwen.Inference.Prompts;
using Qwen.Inference.Tests.Tokenization;

namespace Qwen.Inference.Tests.Prompts;

/// <summary>The sentiment prompt and its input budget: last complete clauses first, the front cut only when one clause is too long.</summary>
public sealed class SentimentPromptTests
{

    private static SentimentPrompt Prompt(int budget) => new(ReferenceVectors.Tokenizer, new SentimentPromptOptions { MaxInputTokens = budget });

    private static int Count(string text) => ReferenceVectors.Tokenizer.CountTokens(text, parseSpecialTokens: false);

    [Fact]
    public void Builds_system_instruction_user_text_and_generation_prompt()
    {
        var options = new SentimentPromptOptions();
        var built = new SentimentPrompt(ReferenceVectors.Tokenizer, options).Build("很好吃！");
        built.Ids.Should().Equal(new ChatTemplate().Encode(ReferenceVectors.Tokenizer, [ChatMessage.System(options.SystemInstruction), ChatMessage.User("很好吃！")]));
        built.Truncation.Should().Be(PromptTruncation.None);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\n\t")]
    public void Empty_text_is_rejected(string text)
    {
        var act = () => new SentimentPrompt(ReferenceVectors.Tokenizer, new SentimentPromptOptions()).Build(text);
        act.Should().Throw<ArgumentException>().WithMessage("*empty*");
    }

    [Fact]
    public void Labels_come_from_configuration()
    {
        var prompt = new SentimentPrompt(ReferenceVectors.Tokenizer, new SentimentPromptOptions { PositiveLabel = "好", NegativeLabel = "坏" });
        ReferenceVectors.Tokenizer.Decode(prompt.PositiveLabelIds).Should().Be("好");
        ReferenceVectors.Tokenizer.Decode(prompt.NegativeLabelIds).Should().Be("坏");
    }

    [Fact]
    public void Input_exactly_at_the_budget_is_kept_and_one_token_over_is_truncated()
    {
        const string text = "第一句话很长很长。第二句话！Third clause here? 第四句；";
        int n = Count(text);
        Prompt(n).FitInput(text).Truncation.Should().Be(PromptTruncation.None);
        var (ids, truncation) = Prompt(n - 1).FitInput(text);
        truncation.DroppedClauses.Should().Be(1);
        ReferenceVectors.Tokenizer.Decode(ids).Should().Be("第二句话！Third clause here? 第四句；");
        truncation.DroppedTokens.Should().Be(n - ids.Length);
    }

    [Fact]
    public void Keeps_as_many_last_clauses_as_fit()
    {
        const string text = "Bad start. The middle was fine! But the ending, oh the ending, was wonderful.";
        int lastTwo = Count("The middle was fine! But the ending, oh the ending, was wonderful.");
        var (ids, truncation) = Prompt(lastTwo).FitInput(text);
        ReferenceVectors.Tokenizer.Decode(ids).Should().Be("The middle was fine! But the ending, oh the ending, was wonderful.");
        truncation.DroppedClauses.Should().Be(1);
        var (one, t1) = Prompt(lastTwo - 1).FitInput(text);
        ReferenceVectors.Tokenizer.Decode(one).Should().Be("But the ending, oh the ending, was wonderful.");
        t1.DroppedClauses.Should().Be(2);
    }

    [Fact]
    public void A_single_clause_over_the_budget_keeps_its_end()
    {
        string text = string.Concat(Enumerable.Repeat("质量很好，物流也快，", 60));
        var (ids, truncation) = Prompt(32).FitInput(text);
        ids.Length.Should().BeInRange(30, 32);
        text.Should().EndWith(ReferenceVectors.Tokenizer.Decode(ids));
        truncation.DroppedClauses.Should().Be(1);
        truncation.DroppedTokens.Should().Be(Count(text) - ids.Length);
    }

    [Fact]
    public void Options_are_checked()
    {
        var act = () => new SentimentPrompt(ReferenceVectors.Tokenizer, new SentimentPromptOptions { MaxInputTokens = 0 });
        act.Should().Throw<ArgumentException>().WithMessage("*MaxInputTokens*");
        act = () => new SentimentPrompt(ReferenceVectors.Tokenizer, new SentimentPromptOptions { NegativeLabel = "正面" });
        act.Should().Throw<ArgumentException>().WithMessage("*two different*");
    }
}
