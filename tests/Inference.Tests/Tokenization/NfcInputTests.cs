using System.Text;
using Xunit;
using FluentAssertions;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Tokenization;

/// <summary>
/// The tokenizer NFC-normalizes its input with ICU (through string.Normalize): decoding the
/// encoding of each reference vector's input gives node's NFC of it.
/// </summary>
public sealed class NfcInputTests
{
    private static BpeTokenizer Tokenizer => ReferenceVectors.Tokenizer;

    // The vectors are Unicode 17; Debian 12's ICU 72 implements Unicode 15.0, so it leaves the
    // compositions that Unicode 16 added (Todhri, Tulu-Tigalari, Gurung Khema, Kirat Rai) alone.
    private static readonly bool IcuHasUnicode16 = "\U000105D2\u0307".Normalize(NormalizationForm.FormC) == "\U000105C9";

    [Fact]
    public void Agrees_with_node_on_every_decomposition_mark_and_mixture()
    {
        var vectors = ReferenceVectors.Nfc();
        vectors.Should().HaveCountGreaterThan(5000);
        var checkedVectors = vectors.Where(v => IcuHasUnicode16 || !InUnicode16Scripts(v.Input)).ToArray();
        (vectors.Count - checkedVectors.Length).Should().BeLessThan(100, "only the vectors in the four Unicode 16 scripts may be left out");
        var wrong = checkedVectors.Where(v => RoundTrip(v.Input) != v.Nfc)
            .Select(v => $"{Hex(v.Input)} -> expected {Hex(v.Nfc)} got {Hex(RoundTrip(v.Input))}")
            .Take(20).ToArray();
        wrong.Should().BeEmpty();
    }

    [Fact]
    public void Unicode_16_compositions_follow_the_installed_ICU()
    {
        string todhri = "\U000105D2\u0307";
        RoundTrip(todhri).Should().Be(IcuHasUnicode16 ? "\U000105C9" : todhri);
    }

    [Theory]
    [InlineData("e\u0301", "\u00e9")]
    [InlineData("\u212b", "\u00c5")]                 // Angstrom sign: a singleton decomposition
    [InlineData("a\u0302\u0323", "\u1ead")]          // reordered, then composed
    [InlineData("\u1100\u1161\u11a8", "\uac01")]     // Hangul L V T
    [InlineData("plain ASCII", "plain ASCII")]
    public void Encodes_the_NFC_of_its_input(string input, string expected) => RoundTrip(input).Should().Be(expected);

    [Fact]
    public void Lone_surrogates_encode_as_the_replacement_character_and_nothing_composes_across_them()
    {
        // Not theory data: xunit's serialization of test cases would mangle lone surrogates.
        RoundTrip("\ud800x").Should().Be("\ufffdx");
        RoundTrip("e\udc00\u0301").Should().Be("e\ufffd\u0301");
        Tokenizer.Encode("a\ud800b").Should().Equal(Tokenizer.Encode("a\ufffdb"));
        Tokenizer.Encode("\udfff").Should().Equal(Tokenizer.Encode("\ufffd"));
    }

    [Fact]
    public void Runs_with_ICU_not_in_invariant_mode()
    {
        // Under InvariantGlobalization string.Normalize would leave text unchanged and the ids would be wrong.
        AppContext.TryGetSwitch("System.Globalization.Invariant", out bool invariant);
        invariant.Should().BeFalse();
        "e\u0301".Normalize(NormalizationForm.FormC).Should().Be("\u00e9");
    }

    private static string RoundTrip(string input) => Tokenizer.Decode(Tokenizer.Encode(input, parseSpecialTokens: false));

    private static bool InUnicode16Scripts(string text) => text.EnumerateRunes().Any(r => r.Value is >= 0x105C0 and <= 0x105FF
        or >= 0x11380 and <= 0x113FF or >= 0x16100 and <= 0x1613F or >= 0x16D40 and <= 0x16D7F);

    private static string Hex(string s) => string.Join(" ", s.EnumerateRunes().Select(r => r.Value.ToString("X4")));
}
