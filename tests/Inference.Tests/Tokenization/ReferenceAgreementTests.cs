using Xunit;
using FluentAssertions;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Tokenization;

/// <summary>Our tokenizer against the JavaScript reference, on the committed corpus.</summary>
public sealed class ReferenceAgreementTests
{
    private static BpeTokenizer Tokenizer => ReferenceVectors.Tokenizer;

    [Fact]
    public void Corpus_is_large_and_covers_the_hard_cases()
    {
        var texts = ReferenceVectors.Corpus.Select(v => v.Text).ToArray();
        texts.Should().HaveCountGreaterThanOrEqualTo(300);
        texts.Should().Contain("");
        texts.Should().Contain(t => t.Contains("\r\n", StringComparison.Ordinal));
        texts.Should().Contain(t => t.Contains("\u200d", StringComparison.Ordinal));        // ZWJ sequences
        texts.Should().Contain(t => t.Contains("<|im_start |>", StringComparison.Ordinal)); // near-miss of a special token
        texts.Should().Contain("'LL");
    }

    [Fact]
    public void Ids_equal_the_reference_for_every_corpus_string()
    {
        var mismatches = ReferenceVectors.Corpus
            .Select(v => (v.Text, Expected: v.Ids, Actual: Tokenizer.Encode(v.Text)))
            .Where(r => !r.Expected.SequenceEqual(r.Actual))
            .Select(r => $"{Escape(r.Text)}: expected [{string.Join(",", r.Expected)}] got [{string.Join(",", r.Actual)}]")
            .ToArray();
        mismatches.Should().BeEmpty();
    }

    [Fact]
    public void Decoding_the_encoding_gives_the_NFC_text()
    {
        foreach (var (text, _) in ReferenceVectors.Corpus)
        {
            // Added tokens are matched before normalization, so NFC applies to the text between them:
            // "<|im_end|>\u0338" keeps its '>' + U+0338 although NFC of the whole string would compose "≯".
            string expected = text == "<|im_end|>\u0338" ? text : text.Normalize(System.Text.NormalizationForm.FormC);
            Tokenizer.Decode(Tokenizer.Encode(text)).Should().Be(expected, "decode(encode(x)) must be NFC(x) for {0}", Escape(text));
        }
    }

    [Fact]
    public void Streaming_output_equals_one_shot_decoding_for_every_prefix_split()
    {
        foreach (var (text, ids) in ReferenceVectors.Corpus)
        {
            foreach (bool skipSpecial in new[] { false, true })
            {
                string whole = Tokenizer.Decode(ids, skipSpecial);
                for (int split = 0; split <= ids.Length; split++)
                {
                    var decoder = Tokenizer.CreateStreamingDecoder(skipSpecial);
                    var output = new System.Text.StringBuilder();
                    for (int i = 0; i < split; i++) output.Append(decoder.Push(ids[i]));
                    string prefix = output.ToString();
                    // A half character emitted early would show as U+FFFD where the whole decode has text.
                    whole.Should().StartWith(prefix, "text {0}, split after {1} tokens", Escape(text), split);
                    for (int i = split; i < ids.Length; i++) output.Append(decoder.Push(ids[i]));
                    output.Append(decoder.Flush());
                    output.ToString().Should().Be(whole, "text {0}, split after {1} tokens", Escape(text), split);
                }
            }
        }
    }

    private static string Escape(string text) => System.Text.Json.JsonSerializer.Serialize(text);
}
