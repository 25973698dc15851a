using Xunit;
using FluentAssertions;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Tokenization;

public sealed class PreTokenizerTests
{
    private static string[] Split(string text)
    {
        var pieces = new List<(int Start, int Length)>();
        QwenPreTokenizer.Split(text, pieces);
        return pieces.Select(p => text.Substring(p.Start, p.Length)).ToArray();
    }

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("it's I'LL", new[] { "it", "'s", " I", "'LL" })]
    [InlineData("a  \n\n  b", new[] { "a", "  \n\n", " ", " b" })]
    [InlineData("123", new[] { "1", "2", "3" })]
    [InlineData("!!x ??\n\n", new[] { "!!", "x", " ??\n\n" })]
    [InlineData("end   ", new[] { "end", "   " })]
    [InlineData("𝐀𝐁 x", new[] { "𝐀𝐁", " x" })]      // letters outside the BMP stay one word
    public void Splits_like_the_Qwen_pattern(string text, string[] expected) => Split(text).Should().Equal(expected);

    // Unicode White_Space, as Qwen's Rust and Python tokenizers use: U+0085 is a space, U+FEFF is not.
    // The JavaScript reference uses ECMAScript's \s, which says the opposite for both; these two
    // characters are therefore left out of the reference corpus.
    [Fact]
    public void Next_line_is_whitespace() => Split("a\u0085\u0085b").Should().Equal("a", "\u0085", "\u0085b");

    [Fact]
    public void Byte_order_mark_is_not_whitespace() => Split("a \ufeff\ufeffb").Should().Equal("a", " \ufeff\ufeff", "b");

    [Fact]
    public void Every_character_lands_in_exactly_one_piece()
    {
        foreach (var (text, _) in ReferenceVectors.Corpus) string.Concat(Split(text)).Should().Be(text);
    }
}
