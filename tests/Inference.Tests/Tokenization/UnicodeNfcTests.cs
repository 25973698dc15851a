using Xunit;
using FluentAssertions;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Tokenization;

public sealed class UnicodeNfcTests
{
    [Fact]
    public void Agrees_with_node_on_every_decomposition_mark_and_mixture()
    {
        var vectors = ReferenceVectors.Nfc();
        vectors.Should().HaveCountGreaterThan(5000);
        var wrong = vectors.Where(v => UnicodeNfc.Normalize(v.Input) != v.Nfc)
            .Select(v => $"{Hex(v.Input)} -> expected {Hex(v.Nfc)} got {Hex(UnicodeNfc.Normalize(v.Input))}")
            .Take(20).ToArray();
        wrong.Should().BeEmpty();
    }

    [Theory]
    [InlineData("e\u0301", "\u00e9")]
    [InlineData("\u212b", "\u00c5")]                 // Angstrom sign: a singleton decomposition
    [InlineData("a\u0302\u0323", "\u1ead")]          // reordered, then composed
    [InlineData("\u1100\u1161\u11a8", "\uac01")]     // Hangul L V T
    [InlineData("plain ASCII", "plain ASCII")]
    [InlineData("\ud800x", "\ud800x")]               // a lone surrogate is kept
    public void Composes(string input, string expected) => UnicodeNfc.Normalize(input).Should().Be(expected);

    [Fact]
    public void Leaves_normalized_text_as_the_same_instance()
    {
        string text = "中文 English 😀 é";
        UnicodeNfc.Normalize(text).Should().BeSameAs(text);
    }

    private static string Hex(string s) => string.Join(" ", s.EnumerateRunes().Select(r => r.Value.ToString("X4")));
}
