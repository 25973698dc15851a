using System.Buffers;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// Finds added tokens in text: scanning left to right, at each position the longest token
/// that starts there wins. Only exact strings match (<c>&lt;|im_start |&gt;</c> is text).
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Node _root = new();
    private readonly SearchValues<char> _firstChars;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        var first = new HashSet<char>();
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0) continue;
            first.Add(token.Content[0]);
            var node = _root;
            foreach (char c in token.Content) node = node.Children.TryGetValue(c, out var child) ? child : node.Children[c] = new Node();
            node.Token = token;
        }
        _firstChars = SearchValues.Create(first.ToArray());
    }

    private sealed class Node
    {
        public Dictionary<char, Node> Children { get; } = new();
        public AddedToken? Token { get; set; }
    }

    /// <summary>The next match at or after <paramref name="start"/>, skipping tokens <paramref name="accept"/> rejects.</summary>
    public (int Index, AddedToken Token)? FindNext(ReadOnlySpan<char> text, int start, Func<AddedToken, bool> accept)
    {
        int i = start;
        while (i < text.Length)
        {
            int offset = text[i..].IndexOfAny(_firstChars);
            if (offset < 0) return null;
            i += offset;
            AddedToken? longest = null;
            var node = _root;
            for (int j = i; j < text.Length && node.Children.TryGetValue(text[j], out node); j++)
            {
                if (node.Token is { } token && accept(token)) longest = token;
            }
            if (longest is not null) return (i, longest);
            i++;
        }
        return null;
    }
}
