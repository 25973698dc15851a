using Xunit;
using FluentAssertions;
using Qwen.Inference.Prompts;

namespace Qwen.Inference.Tests.Prompts;

public sealed class ClauseSplitterTests
{
    [Theory]
    [InlineData("你好。今天怎么样？很好！", new[] { "你好。", "今天怎么样？", "很好！" })]
    [InlineData("Dr. Who paid 3.14 dollars. Fine!", new[] { "Dr. ", "Who paid 3.14 dollars. ", "Fine!" })]
    [InlineData("他说：“太好了！”然后走了。", new[] { "他说：“太好了！”", "然后走了。" })]
    [InlineData("Wait... what?! ok", new[] { "Wait... ", "what?! ", "ok" })]
    [InlineData("line one\nline two", new[] { "line one\n", "line two" })]
    [InlineData("no punctuation at all", new[] { "no punctuation at all" })]
    [InlineData("a.b.c", new[] { "a.b.c" })]
    [InlineData("", new string[0])]
    public void Splits_at_sentence_punctuation(string text, string[] expected) => ClauseSplitter.Split(text).Should().Equal(expected);

    [Fact]
    public void Clauses_concatenate_back_to_the_text()
    {
        foreach (var (text, _) in Tokenization.ReferenceVectors.Corpus) string.Concat(ClauseSplitter.Split(text)).Should().Be(text);
    }
}
