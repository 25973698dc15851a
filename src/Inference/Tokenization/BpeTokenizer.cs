using System.Text;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// Qwen's byte-level BPE tokenizer, loaded from a Hugging Face tokenizer.json: added tokens
/// are matched first on the raw text, the rest is NFC-normalized, split by Qwen's
/// pre-tokenizer and merged by rank. Immutable and thread-safe; load once and share.
/// </summary>
public sealed class BpeTokenizer
{
    private readonly string[] _tokenOf;
    private readonly byte[]?[] _bytesOf;
    private readonly AddedToken?[] _addedOf;
    private readonly Dictionary<string, int> _idOf;
    private readonly BpeModel _model;
    private readonly AddedTokenSplitter _splitter;
    private readonly bool _normalize;

    private BpeTokenizer(TokenizerDefinition definition)
    {
        _tokenOf = definition.TokenOf;
        _normalize = definition.Normalize;
        if (_normalize) NfcText.EnsureAvailable();
        _idOf = new Dictionary<string, int>(definition.Vocabulary, StringComparer.Ordinal);
        AddedTokens = definition.AddedTokens;
        _addedOf = new AddedToken?[_tokenOf.Length];
        foreach (var token in AddedTokens)
        {
            _addedOf[token.Id] = token;
            _idOf[token.Content] = token.Id;
        }

        _bytesOf = new byte[]?[_tokenOf.Length];
        foreach (var (token, id) in definition.Vocabulary)
        {
            var bytes = new byte[token.Length];
            for (int i = 0; i < token.Length; i++) bytes[i] = (byte)ByteLevelAlphabet.ByteOf(token[i]);
            _bytesOf[id] = bytes;
        }

        var idOfByte = new int[256];
        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteLevelAlphabet.CharOfByte[b].ToString();
            idOfByte[b] = definition.Vocabulary.TryGetValue(symbol, out int id)
                ? id
                : throw new InvalidModelException($"tokenizer.json: the vocabulary has no token for byte 0x{b:X2} ('{symbol}'); it is not a byte-level BPE");
        }

        var merges = new Dictionary<long, (int, int)>(definition.Merges.Count);
        for (int rank = 0; rank < definition.Merges.Count; rank++)
        {
            var (left, right) = definition.Merges[rank];
            if (!definition.Vocabulary.TryGetValue(left, out int leftId) || !definition.Vocabulary.TryGetValue(right, out int rightId)
                || !definition.Vocabulary.TryGetValue(left + right, out int merged))
            {
                throw new InvalidModelException($"tokenizer.json: merge #{rank} '{left} {right}' uses or makes a token missing from the vocabulary");
            }
            merges.TryAdd(BpeModel.PairKey(leftId, rightId), (rank, merged));
        }
        _model = new BpeModel(idOfByte, merges, definition.IgnoreMerges ? definition.Vocabulary : null);
        _splitter = new AddedTokenSplitter(AddedTokens);
    }

    /// <summary>Loads a tokenizer.json file; a model directory may be given instead.</summary>
    /// <exception cref="InvalidModelException">The file is missing, not JSON, truncated or not a byte-level BPE we support.</exception>
    public static BpeTokenizer Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "tokenizer.json");
        return new BpeTokenizer(TokenizerDefinition.Load(path));
    }

    /// <summary>Builds a tokenizer from the UTF-8 text of a tokenizer.json.</summary>
    public static BpeTokenizer FromJson(ReadOnlyMemory<byte> utf8Json) => new(TokenizerDefinition.Parse(utf8Json));

    /// <summary>One more than the largest token id (vocabulary plus added tokens).</summary>
    public int VocabSize => _tokenOf.Length;

    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The id of a vocabulary or added token given as its exact string, or null.</summary>
    public int? TokenToId(string token) => _idOf.TryGetValue(token, out int id) ? id : null;

    /// <summary>The token string of an id (byte-level characters for vocabulary tokens), or null for unknown ids.</summary>
    public string? IdToToken(int id) => IsKnown(id) ? _tokenOf[id] : null;

    public bool IsKnown(int id) => id >= 0 && id < _tokenOf.Length && _tokenOf[id] is not null;

    public bool IsSpecial(int id) => id >= 0 && id < _addedOf.Length && _addedOf[id] is { Special: true };

    /// <summary>The id of a special token such as <c>&lt;|im_end|&gt;</c>; throws when the tokenizer has none.</summary>
    public int SpecialTokenId(string content) =>
        AddedTokens.FirstOrDefault(t => t.Content == content)?.Id
        ?? throw new InvalidModelException($"tokenizer.json has no added token '{content}'");

    /// <param name="text">Any text; invalid UTF-16 (lone surrogates) is encoded as U+FFFD.</param>
    /// <param name="parseSpecialTokens">True: special-token strings in the text become their ids.
    /// False: they are encoded as plain text (use it for untrusted content).
    /// Non-special added tokens are matched either way, as in Hugging Face tokenizers.</param>
    public int[] Encode(string text, bool parseSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids, parseSpecialTokens);
        return ids.ToArray();
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    public void Encode(string text, List<int> ids, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        Func<AddedToken, bool> accept = parseSpecialTokens ? static _ => true : static t => !t.Special;
        int start = 0;
        while (start < text.Length)
        {
            var match = _splitter.FindNext(text, start, accept);
            int end = match?.Index ?? text.Length;
            if (end > start) EncodeText(text.Substring(start, end - start), ids);
            if (match is not { } found) break;
            ids.Add(found.Token.Id);
            start = found.Index + found.Token.Content.Length;
        }
    }

    /// <summary>The number of tokens <see cref="Encode(string, bool)"/> gives.</summary>
    public int CountTokens(string text, bool parseSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids, parseSpecialTokens);
        return ids.Count;
    }

    private void EncodeText(string text, List<int> ids)
    {
        if (_normalize) text = NfcText.Normalize(text);
        var pieces = new List<(int Start, int Length)>();
        QwenPreTokenizer.Split(text, pieces);
        foreach (var (start, length) in pieces) _model.Encode(text.AsSpan(start, length), ids);
    }

    /// <summary>Decodes ids to text; byte sequences that are not UTF-8 become U+FFFD.</summary>
    /// <param name="skipSpecialTokens">Leave out special tokens (<c>&lt;|im_end|&gt;</c> …); non-special added tokens stay.</param>
    /// <exception cref="ArgumentOutOfRangeException">An id the tokenizer does not know.</exception>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        var text = new StringBuilder();
        var run = new List<byte>();
        foreach (int id in ids)
        {
            if (!IsKnown(id)) throw UnknownId(id);
            if (_addedOf[id] is { } added)
            {
                if (added.Special && skipSpecialTokens) continue;
                Flush();
                text.Append(added.Content);
            }
            else
            {
                run.AddRange(_bytesOf[id]!);
            }
        }
        Flush();
        return text.ToString();

        // Byte runs between added tokens are decoded on their own, as the reference decoder does.
        void Flush()
        {
            if (run.Count == 0) return;
            text.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(run)));
            run.Clear();
        }
    }

    /// <summary>An incremental decoder for one generated sequence.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = true, bool skipUnknownIds = false) =>
        new(this, skipSpecialTokens, skipUnknownIds);

    internal AddedToken? AddedTokenOf(int id) => _addedOf[id];

    internal byte[] BytesOf(int id) => _bytesOf[id]!;

    internal ArgumentOutOfRangeException UnknownId(int id) =>
        new(nameof(id), id, $"token id {id} is not in the tokenizer's vocabulary (ids 0 to {VocabSize - 1}, with gaps where no token is defined)");
}
