using System.Text.Json;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// What a Hugging Face tokenizer.json says, checked: a byte-level BPE with Qwen's Split
/// pre-tokenizer and an optional NFC normalizer. Anything else is refused with the reason,
/// because encoding with a half-understood configuration would silently give wrong ids.
/// </summary>
internal sealed record TokenizerDefinition(
    string[] TokenOf,
    Dictionary<string, int> Vocabulary,
    List<(string Left, string Right)> Merges,
    List<AddedToken> AddedTokens,
    bool Normalize,
    bool IgnoreMerges)
{
    public static TokenizerDefinition Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidModelException($"tokenizer.json not found at '{path}'");
        byte[] bytes = File.ReadAllBytes(path);
        return Parse(bytes, path);
    }

    public static TokenizerDefinition Parse(ReadOnlyMemory<byte> json, string source = "tokenizer.json")
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
            return Read(document.RootElement, source);
        }
        catch (JsonException e)
        {
            throw new InvalidModelException(
                $"{source} is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}); is the file truncated? {e.Message}", e);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException)
        {
            throw new InvalidModelException($"{source}: a field has the wrong JSON type: {e.Message}", e);
        }
    }

    private static TokenizerDefinition Read(JsonElement root, string source)
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new InvalidModelException($"{source}: {problem}");
        }

        Require(root.ValueKind == JsonValueKind.Object, "the top level is not a JSON object");
        Require(root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object, "no \"model\" object");
        string? type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE";
        Require(type == "BPE", $"model type '{type}' is not supported (expected BPE)");
        Require(!model.TryGetProperty("byte_fallback", out var fallback) || fallback.ValueKind != JsonValueKind.True, "byte_fallback BPE is not supported (expected byte-level BPE)");
        CheckNormalizer(root, Require, out bool normalize);
        CheckPreTokenizer(root, Require);
        if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            Require(decoder.GetProperty("type").GetString() == "ByteLevel", $"decoder '{decoder.GetProperty("type").GetString()}' is not supported (expected ByteLevel)");

        Require(model.TryGetProperty("vocab", out var vocabElement) && vocabElement.ValueKind == JsonValueKind.Object, "model has no \"vocab\" object");
        var vocabulary = new Dictionary<string, int>(200_000, StringComparer.Ordinal);
        int maxId = -1;
        foreach (var entry in vocabElement.EnumerateObject())
        {
            int id = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out int parsed) ? parsed : -1;
            Require(id >= 0, $"vocab entry '{entry.Name}' has no valid id");
            foreach (char c in entry.Name)
                Require(ByteLevelAlphabet.ByteOf(c) >= 0, $"vocab entry '{entry.Name}' (id {id}) is not in the byte-level alphabet");
            vocabulary[entry.Name] = id;
            maxId = Math.Max(maxId, id);
        }
        Require(vocabulary.Count > 0, "the vocabulary is empty");

        Require(model.TryGetProperty("merges", out var mergesElement) && mergesElement.ValueKind == JsonValueKind.Array, "model has no \"merges\" array");
        var merges = new List<(string, string)>(mergesElement.GetArrayLength());
        int index = 0;
        foreach (var merge in mergesElement.EnumerateArray())
        {
            // Older files write "a b", newer ones ["a", "b"].
            if (merge.ValueKind == JsonValueKind.String)
            {
                string text = merge.GetString()!;
                int space = text.IndexOf(' ', StringComparison.Ordinal);
                Require(space > 0 && space < text.Length - 1 && text.IndexOf(' ', space + 1) < 0, $"merge #{index} '{text}' is not two tokens");
                merges.Add((text[..space], text[(space + 1)..]));
            }
            else
            {
                Require(merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2, $"merge #{index} is not a pair of tokens");
                merges.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            index++;
        }

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedElement) && addedElement.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in addedElement.EnumerateArray())
            {
                int id = token.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.Number && idElement.TryGetInt32(out int addedId) ? addedId : -1;
                Require(id >= 0, "an added token has no valid id");
                Require(token.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && content.GetString()!.Length > 0,
                    $"added token {id} has no content");
                bool special = token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                foreach (string flag in new[] { "lstrip", "rstrip", "single_word" })
                {
                    Require(!token.TryGetProperty(flag, out var value) || value.ValueKind != JsonValueKind.True,
                        $"added token '{content.GetString()}' sets {flag}, which is not supported");
                }
                added.Add(new AddedToken(id, content.GetString()!, special));
                maxId = Math.Max(maxId, id);
            }
        }

        var tokenOf = new string[maxId + 1];
        foreach (var (token, id) in vocabulary) tokenOf[id] = token;
        foreach (var token in added) tokenOf[token.Id] = token.Content;
        bool ignoreMerges = model.TryGetProperty("ignore_merges", out var ignore) && ignore.ValueKind == JsonValueKind.True;
        return new TokenizerDefinition(tokenOf, vocabulary, merges, added, normalize, ignoreMerges);
    }

    private static void CheckNormalizer(JsonElement root, Action<bool, string> require, out bool normalize)
    {
        normalize = false;
        if (!root.TryGetProperty("normalizer", out var normalizer) || normalizer.ValueKind == JsonValueKind.Null) return;
        string? type = normalizer.TryGetProperty("type", out var t) ? t.GetString() : null;
        require(type == "NFC", $"normalizer '{type}' is not supported (expected NFC or none)");
        normalize = true;
    }

    private static void CheckPreTokenizer(JsonElement root, Action<bool, string> require)
    {
        require(root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object, "no \"pre_tokenizer\" object");
        var steps = pre.GetProperty("type").GetString() == "Sequence" ? pre.GetProperty("pretokenizers").EnumerateArray().ToArray() : [pre];
        bool split = false, byteLevel = false;
        foreach (var step in steps)
        {
            string? type = step.GetProperty("type").GetString();
            if (type == "Split")
            {
                string? pattern = step.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var regex) ? regex.GetString() : null;
                require(pattern == QwenPreTokenizer.Pattern, $"Split pattern '{pattern}' is not Qwen's; only Qwen's pre-tokenizer is implemented");
                require(step.TryGetProperty("behavior", out var behavior) && behavior.GetString() == "Isolated", "Split behavior must be Isolated");
                require(!step.TryGetProperty("invert", out var invert) || invert.ValueKind != JsonValueKind.True, "an inverted Split is not supported");
                split = true;
            }
            else if (type == "ByteLevel")
            {
                require(!step.TryGetProperty("add_prefix_space", out var prefix) || prefix.ValueKind != JsonValueKind.True, "ByteLevel add_prefix_space is not supported");
                require(!step.TryGetProperty("use_regex", out var useRegex) || useRegex.ValueKind == JsonValueKind.False, "ByteLevel use_regex (GPT-2's own split) is not supported");
                byteLevel = true;
            }
            else
            {
                require(false, $"pre-tokenizer '{type}' is not supported");
            }
        }
        require(split && byteLevel, "the pre-tokenizer must be Qwen's Split followed by ByteLevel");
    }
}
