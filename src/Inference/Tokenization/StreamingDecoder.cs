using System.Text;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// Decodes a token stream piece by piece: a character whose UTF-8 bytes are spread over
/// several tokens is held back until its last byte arrives, so no half character is ever
/// emitted. The concatenated output equals <see cref="BpeTokenizer.Decode"/> of all ids.
/// Not thread-safe: one instance per sequence.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly BpeTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly bool _skipUnknownIds;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];
    private bool _pending;

    internal StreamingDecoder(BpeTokenizer tokenizer, bool skipSpecialTokens, bool skipUnknownIds)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _skipUnknownIds = skipUnknownIds;
    }

    /// <summary>Adds one token; returns the text it completes (often empty while a character is incomplete).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An unknown id, unless unknown ids are skipped.</exception>
    public string Push(int id)
    {
        if (!_tokenizer.IsKnown(id)) return _skipUnknownIds ? "" : throw _tokenizer.UnknownId(id);
        if (_tokenizer.AddedTokenOf(id) is { } added)
        {
            if (added.Special && _skipSpecialTokens) return "";
            return Flush() + added.Content;
        }
        return DecodeBytes(_tokenizer.BytesOf(id), flush: false);
    }

    /// <summary>Ends the stream: bytes of an unfinished character come out as U+FFFD.</summary>
    public string Flush() => _pending ? DecodeBytes([], flush: true) : "";

    private string DecodeBytes(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, flush);
        if (needed > _chars.Length) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int count = _utf8.GetChars(bytes, _chars, flush);
        _pending = !flush;
        return new string(_chars, 0, count);
    }
}
