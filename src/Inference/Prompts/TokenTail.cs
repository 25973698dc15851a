using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Prompts;

/// <summary>Cuts token ids from the front of a text so that at most a given number remain.</summary>
internal static class TokenTail
{
    /// <summary>
    /// The last <paramref name="keep"/> ids, or fewer: the kept part never starts inside a
    /// character (a token whose first byte continues a UTF-8 sequence is dropped too).
    /// </summary>
    public static int[] Keep(BpeTokenizer tokenizer, int[] ids, int keep)
    {
        int start = Math.Max(0, ids.Length - keep);
        while (start < ids.Length && StartsInsideCharacter(tokenizer, ids[start])) start++;
        return ids[start..];
    }

    private static bool StartsInsideCharacter(BpeTokenizer tokenizer, int id) =>
        tokenizer.IsKnown(id) && !tokenizer.IsSpecial(id) && tokenizer.IdToToken(id) is { Length: > 0 } token
        && ByteLevelAlphabet.ByteOf(token[0]) is var b && b >= 0 && (b & 0xC0) == 0x80;
}
