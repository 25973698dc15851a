using System.Text;

namespace Qwen.Grains;

/// <summary>
/// Cuts a streamed reply before the first occurrence of any stop sequence. Text that could be the
/// start of a stop sequence is held back until the next piece shows whether it is one, so a
/// streaming client never sees a part of a stop sequence.
/// </summary>
internal sealed class StopSequenceFilter(IReadOnlyList<string> stops)
{
    private readonly StringBuilder _pending = new();

    /// <summary>A stop sequence was found; nothing more is emitted.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Takes the next piece of the reply and returns the text that may be emitted now.</summary>
    public string Push(string piece)
    {
        if (Stopped) return "";
        if (stops.Count == 0) return piece;
        _pending.Append(piece);
        string text = _pending.ToString();
        int cut = -1;
        foreach (string stop in stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        _pending.Clear();
        if (cut >= 0)
        {
            Stopped = true;
            return text[..cut];
        }
        int hold = HeldBackLength(text);
        _pending.Append(text, text.Length - hold, hold);
        return text[..^hold];
    }

    /// <summary>The held-back text once the reply has ended without a stop sequence.</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending.ToString();
        _pending.Clear();
        return rest;
    }

    /// <summary>The longest end of <paramref name="text"/> that begins some stop sequence.</summary>
    private int HeldBackLength(string text)
    {
        int longest = 0;
        foreach (string stop in stops)
        {
            for (int length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
