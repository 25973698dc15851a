namespace Qwen.Api.Endpoints;

/// <summary>What text the Api accepts in any field that reaches the model or storage.</summary>
internal static class TextRules
{
    /// <summary>
    /// The field's text: not blank, within <paramref name="maxChars"/>, and free of NUL and unpaired
    /// surrogates (they cannot be tokenized as text or stored).
    /// </summary>
    public static string Check(string? text, string field, int maxChars, bool allowBlank = false)
    {
        text ??= "";
        if (!allowBlank && string.IsNullOrWhiteSpace(text)) throw RequestRejectedException.BadRequest($"the field '{field}' is empty", field);
        if (text.Length > maxChars)
            throw RequestRejectedException.BadRequest($"the field '{field}' has {text.Length} characters; the limit is {maxChars}", field);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\0') throw RequestRejectedException.BadRequest($"the field '{field}' contains a NUL character at position {i}", field);
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(c))
                throw RequestRejectedException.BadRequest($"the field '{field}' contains an unpaired UTF-16 surrogate at position {i}", field);
        }
        return text;
    }
}
