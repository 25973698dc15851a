using Xunit;
using FluentAssertions;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Tokenization;

public sealed class TokenizerBehaviourTests
{
    private static BpeTokenizer Tokenizer => ReferenceVectors.Tokenizer;

    [Fact]
    public void Knows_Qwens_special_tokens()
    {
        Tokenizer.SpecialTokenId("<|endoftext|>").Should().Be(151643);
        Tokenizer.SpecialTokenId("<|im_start|>").Should().Be(151644);
        Tokenizer.SpecialTokenId("<|im_end|>").Should().Be(151645);
        Tokenizer.IsSpecial(151645).Should().BeTrue();
        Tokenizer.IsSpecial(9707).Should().BeFalse();
    }

    [Fact]
    public void Encodes_the_chat_prompt_of_the_run_script() =>
        Tokenizer.Encode("<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n")
            .Should().Equal(151644, 872, 198, 14990, 151645, 198, 151644, 77091, 198);

    [Fact]
    public void Special_token_strings_can_be_encoded_as_plain_text()
    {
        int[] ids = Tokenizer.Encode("<|im_end|>", parseSpecialTokens: false);
        ids.Should().NotContain(151645).And.HaveCountGreaterThan(1);
        Tokenizer.Decode(ids).Should().Be("<|im_end|>");
    }

    [Fact]
    public void Non_special_added_tokens_match_even_without_special_parsing() =>
        Tokenizer.Encode("<think>", parseSpecialTokens: false).Should().Equal(Tokenizer.TokenToId("<think>")!.Value);

    [Fact]
    public void Decoding_can_skip_special_tokens_but_keeps_other_added_tokens()
    {
        int[] ids = Tokenizer.Encode("<|im_start|>assistant\n<think>hi</think><|im_end|>");
        Tokenizer.Decode(ids, skipSpecialTokens: true).Should().Be("assistant\n<think>hi</think>");
        Tokenizer.Decode(ids).Should().Be("<|im_start|>assistant\n<think>hi</think><|im_end|>");
    }

    [Fact]
    public void Unknown_ids_are_rejected_with_the_id_in_the_message()
    {
        var act = () => Tokenizer.Decode([9707, 151935]);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*151935*");
        Tokenizer.Invoking(t => t.Decode([-1])).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Streaming_can_skip_unknown_ids_from_a_padded_model_vocabulary()
    {
        var decoder = Tokenizer.CreateStreamingDecoder(skipUnknownIds: true);
        (decoder.Push(9707) + decoder.Push(151935) + decoder.Flush()).Should().Be("Hello");
    }

    [Fact]
    public void Streaming_holds_back_a_character_split_across_tokens()
    {
        // "😀" is four bytes; feed them as four single-byte tokens.
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes("😀");
        int[] ids = bytes.Select(b => Tokenizer.TokenToId(((char)ByteLevelAlphabet.CharOfByte[b]).ToString())!.Value).ToArray();
        var decoder = Tokenizer.CreateStreamingDecoder();
        decoder.Push(ids[0]).Should().BeEmpty();
        decoder.Push(ids[1]).Should().BeEmpty();
        decoder.Push(ids[2]).Should().BeEmpty();
        decoder.Push(ids[3]).Should().Be("😀");
    }

    [Fact]
    public void Streaming_flush_turns_an_unfinished_character_into_a_replacement()
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes("中");
        int first = Tokenizer.TokenToId(ByteLevelAlphabet.CharOfByte[bytes[0]].ToString())!.Value;
        var decoder = Tokenizer.CreateStreamingDecoder();
        decoder.Push(first).Should().BeEmpty();
        decoder.Flush().Should().Be("\uFFFD");
        Tokenizer.Decode([first]).Should().Be("\uFFFD");
    }

    [Fact]
    public void Long_inputs_encode_in_reasonable_time_and_round_trip()
    {
        string text = string.Concat(Enumerable.Repeat("长", 20_000)) + string.Concat(Enumerable.Repeat("ab", 20_000));
        Tokenizer.Decode(Tokenizer.Encode(text)).Should().Be(text);
    }

    [Fact]
    public void Concurrent_encoding_gives_the_same_ids()
    {
        var texts = ReferenceVectors.Corpus;
        Parallel.For(0, 8, _ =>
        {
            foreach (var (text, ids) in texts) Tokenizer.Encode(text).Should().Equal(ids);
        });
    }
}
