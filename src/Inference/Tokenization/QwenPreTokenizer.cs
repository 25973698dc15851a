using System.Globalization;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// Qwen's Split pre-tokenizer, written by hand rather than with .NET Regex, which cannot
/// express it exactly (.NET classes see UTF-16 code units, so letters outside the BMP would
/// not be \p{L}). It finds the same pieces as the pattern
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>
/// matched leftmost-first; every character lands in a piece.
/// \s is Unicode White_Space, as in the Rust and Python tokenizers Qwen was built with
/// (JavaScript's \s differs on U+0085 and U+FEFF).
/// </summary>
internal static class QwenPreTokenizer
{
    public const string Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private enum Kind : byte { Other, Letter, Number, Space, NewLine }

    private static readonly Kind[] BmpKinds = BuildBmpKinds();

    /// <summary>Appends (start, length) of each piece of <paramref name="text"/>, in order.</summary>
    public static void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> pieces)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = MatchAt(text, i);
            pieces.Add((i, end - i));
            i = end;
        }
    }

    private static int MatchAt(ReadOnlySpan<char> text, int i)
    {
        int n = text.Length;
        Kind kind = KindAt(text, i, out int width);
        int next = i + width;

        if (text[i] == '\'' && next < n)
        {
            int contraction = ContractionLength(text[next..]);
            if (contraction > 0) return next + contraction;
        }

        if (kind == Kind.Letter) return SkipWhile(text, next, Kind.Letter);
        if (kind is Kind.Other or Kind.Space && next < n && KindAt(text, next, out _) == Kind.Letter)
            return SkipWhile(text, next, Kind.Letter);

        if (kind == Kind.Number) return next;

        int punctuation = kind == Kind.Other ? i : text[i] == ' ' && next < n && KindAt(text, next, out _) == Kind.Other ? next : -1;
        if (punctuation >= 0)
        {
            int end = SkipWhile(text, punctuation, Kind.Other);
            while (end < n && text[end] is '\r' or '\n') end++;
            return end;
        }

        // Whitespace (all of it is in the BMP, one code unit per character).
        int runEnd = i, lastNewLine = -1;
        while (runEnd < n && KindAt(text, runEnd, out _) is Kind.Space or Kind.NewLine)
        {
            if (text[runEnd] is '\r' or '\n') lastNewLine = runEnd;
            runEnd++;
        }
        if (lastNewLine >= 0) return lastNewLine + 1;             // \s*[\r\n]+
        if (runEnd == n || runEnd - i == 1) return runEnd;        // \s+(?!\S) at the end, or \s+
        return runEnd - 1;                                        // \s+(?!\S): leave one space for the next word
    }

    private static int ContractionLength(ReadOnlySpan<char> rest)
    {
        char a = char.ToLowerInvariant(rest[0]);
        if (a is 's' or 't' or 'm' or 'd' && IsAscii(rest[0])) return 1;
        if (rest.Length < 2 || !IsAscii(rest[0]) || !IsAscii(rest[1])) return 0;
        char b = char.ToLowerInvariant(rest[1]);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? 2 : 0;
    }

    private static bool IsAscii(char c) => c < 0x80;

    private static int SkipWhile(ReadOnlySpan<char> text, int i, Kind kind)
    {
        while (i < text.Length && KindAt(text, i, out int width) == kind) i += width;
        return i;
    }

    private static Kind KindAt(ReadOnlySpan<char> text, int i, out int width)
    {
        char c = text[i];
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            return KindOf(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1])));
        }
        width = 1;
        return BmpKinds[c];
    }

    private static Kind[] BuildBmpKinds()
    {
        var kinds = new Kind[65536];
        for (int c = 0; c < kinds.Length; c++) kinds[c] = KindOf(CharUnicodeInfo.GetUnicodeCategory((char)c));
        foreach (int c in new[] { 0x09, 0x0B, 0x0C, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 }) kinds[c] = Kind.Space;
        for (int c = 0x2000; c <= 0x200A; c++) kinds[c] = Kind.Space;
        kinds['\r'] = Kind.NewLine;
        kinds['\n'] = Kind.NewLine;
        return kinds;
    }

    private static Kind KindOf(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
        _ => Kind.Other,
    };
}
