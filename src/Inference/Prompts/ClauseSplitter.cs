using System.Buffers;

namespace Qwen.Inference.Prompts;

/// <summary>
/// Splits text into clauses that end at sentence punctuation, Chinese (。！？；…) or Western
/// (. ! ? ; followed by a space or the end, so "3.14" and "a.b" stay whole), or at a line
/// break. Closing quotes and brackets and the spaces after the punctuation stay with the clause;
/// the clauses concatenate back to the text.
/// </summary>
public static class ClauseSplitter
{
    private static readonly SearchValues<char> Chinese = SearchValues.Create("。！？；…");
    private static readonly SearchValues<char> Western = SearchValues.Create(".!?;");
    private static readonly SearchValues<char> Closing = SearchValues.Create("\"')]}”’」』】）》〉");

    public static IReadOnlyList<string> Split(string text)
    {
        var clauses = new List<string>();
        int start = 0, i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            int end = -1;
            if (Chinese.Contains(c) || c == '\n' || (Western.Contains(c) && EndsSentence(text, i)))
            {
                end = i + 1;
                while (end < text.Length && (Chinese.Contains(text[end]) || Western.Contains(text[end]) || Closing.Contains(text[end]))) end++;
                while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            }
            if (end < 0)
            {
                i++;
                continue;
            }
            clauses.Add(text[start..end]);
            start = i = end;
        }
        if (start < text.Length) clauses.Add(text[start..]);
        return clauses;
    }

    private static bool EndsSentence(string text, int i)
    {
        int next = i + 1;
        while (next < text.Length && (Western.Contains(text[next]) || Closing.Contains(text[next]))) next++;
        return next == text.Length || char.IsWhiteSpace(text[next]) || text[next] > 0x2E80; // CJK text may follow without a space
    }
}
