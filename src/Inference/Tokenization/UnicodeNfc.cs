using System.Collections.Frozen;
using System.Text;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// Unicode canonical composition (NFC). String.Normalize cannot be used: the project builds
/// with InvariantGlobalization, where it leaves text unchanged. Tables come from
/// <see cref="NfcData"/>; Hangul syllables are composed and decomposed by their formula.
/// </summary>
public static class UnicodeNfc
{
    private const int HangulSBase = 0xAC00, HangulLBase = 0x1100, HangulVBase = 0x1161, HangulTBase = 0x11A7;
    private const int HangulLCount = 19, HangulVCount = 21, HangulTCount = 28;
    private const int HangulNCount = HangulVCount * HangulTCount, HangulSCount = HangulLCount * HangulNCount;

    private static readonly FrozenDictionary<int, int[]> DecompositionOf;
    private static readonly FrozenDictionary<int, byte> RankOf;
    private static readonly FrozenDictionary<long, int> Composites;

    // One bit per BMP code unit that may change or move under NFC (quick check "no" or
    // "maybe"); text made only of the other code units is already NFC.
    private static readonly ulong[] UnstableBmp = new ulong[65536 / 64];
    private static readonly FrozenSet<int> UnstableSupplementary;

    static UnicodeNfc()
    {
        var decompositions = new Dictionary<int, int[]>();
        var table = NfcData.Decompositions;
        for (int i = 0; i < table.Length; i += 2 + table[i + 1])
            decompositions[table[i]] = table.Slice(i + 2, table[i + 1]).ToArray();
        DecompositionOf = decompositions.ToFrozenDictionary();

        var ranks = new Dictionary<int, byte>();
        var rankTable = NfcData.CombiningRanks;
        for (int i = 0; i < rankTable.Length; i += 2) ranks[rankTable[i]] = checked((byte)rankTable[i + 1]);
        RankOf = ranks.ToFrozenDictionary();

        var composites = new Dictionary<long, int>();
        var seconds = new HashSet<int>();
        var compositionTable = NfcData.Compositions;
        for (int i = 0; i < compositionTable.Length; i += 3)
        {
            composites[Pair(compositionTable[i], compositionTable[i + 1])] = compositionTable[i + 2];
            seconds.Add(compositionTable[i + 1]);
        }
        Composites = composites.ToFrozenDictionary();

        var unstable = new HashSet<int>(seconds);
        unstable.UnionWith(ranks.Keys);
        foreach (var (cp, _) in decompositions)
        {
            if (!composites.ContainsValue(cp)) unstable.Add(cp); // excluded or singleton: NFC changes it
        }
        for (int v = HangulVBase; v < HangulVBase + HangulVCount; v++) unstable.Add(v);
        for (int t = HangulTBase + 1; t < HangulTBase + HangulTCount; t++) unstable.Add(t);
        foreach (int cp in unstable.Where(c => c < 0x10000)) UnstableBmp[cp >> 6] |= 1UL << (cp & 63);
        UnstableSupplementary = unstable.Where(c => c >= 0x10000).ToFrozenSet();
    }

    /// <summary>The Unicode version of the tables.</summary>
    public static string UnicodeVersion => NfcData.UnicodeVersion;

    public static string Normalize(string text) => IsNormalized(text) ? text : Compose(text);

    /// <summary>A quick check: true when no character of the text can change under NFC.</summary>
    public static bool IsNormalized(ReadOnlySpan<char> text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 0x300) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (UnstableSupplementary.Contains(char.ConvertToUtf32(c, text[++i]))) return false;
            }
            else if ((UnstableBmp[c >> 6] & (1UL << (c & 63))) != 0)
            {
                return false;
            }
        }
        return true;
    }

    private static string Compose(string text)
    {
        var buffer = new List<int>(text.Length + 8);
        for (int i = 0; i < text.Length; i++)
        {
            // A lone surrogate stays as it is (a starter without decomposition), as in JavaScript.
            bool pair = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            Decompose(pair ? char.ConvertToUtf32(text[i], text[++i]) : text[i], buffer);
        }
        Reorder(buffer);
        ComposeInPlace(buffer);
        var builder = new StringBuilder(buffer.Count + 4);
        foreach (int cp in buffer)
        {
            if (cp < 0x10000) builder.Append((char)cp);
            else builder.Append(char.ConvertFromUtf32(cp));
        }
        return builder.ToString();
    }

    private static void Decompose(int cp, List<int> output)
    {
        int s = cp - HangulSBase;
        if (s is >= 0 and < HangulSCount)
        {
            output.Add(HangulLBase + s / HangulNCount);
            output.Add(HangulVBase + s % HangulNCount / HangulTCount);
            if (s % HangulTCount != 0) output.Add(HangulTBase + s % HangulTCount);
        }
        else if (DecompositionOf.TryGetValue(cp, out var parts))
        {
            output.AddRange(parts);
        }
        else
        {
            output.Add(cp);
        }
    }

    private static int Rank(int cp) => RankOf.TryGetValue(cp, out byte rank) ? rank : 0;

    /// <summary>Canonical ordering: a stable sort by combining class within each run of non-starters.</summary>
    private static void Reorder(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int rank = Rank(cps[i]);
            if (rank == 0) continue;
            int j = i;
            int cp = cps[i];
            while (j > 0 && Rank(cps[j - 1]) > rank)
            {
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = cp;
        }
    }

    /// <summary>Canonical composition: each character joins the last starter unless a character between blocks it.</summary>
    private static void ComposeInPlace(List<int> cps)
    {
        int starter = -1, lastRank = 0, count = 0;
        for (int i = 0; i < cps.Count; i++)
        {
            int cp = cps[i];
            int rank = Rank(cp);
            bool adjacent = starter >= 0 && count - 1 == starter;
            if (starter >= 0 && (adjacent || (lastRank != 0 && lastRank < rank)) && TryCompose(cps[starter], cp, out int composite))
            {
                cps[starter] = composite;
                continue;
            }
            if (rank == 0) starter = count;
            lastRank = rank;
            cps[count++] = cp;
        }
        cps.RemoveRange(count, cps.Count - count);
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        int l = first - HangulLBase, v = second - HangulVBase;
        if (l is >= 0 and < HangulLCount && v is >= 0 and < HangulVCount)
        {
            composite = HangulSBase + (l * HangulVCount + v) * HangulTCount;
            return true;
        }
        int s = first - HangulSBase, t = second - HangulTBase;
        if (s is >= 0 and < HangulSCount && s % HangulTCount == 0 && t is > 0 and < HangulTCount)
        {
            composite = first + t;
            return true;
        }
        return Composites.TryGetValue(Pair(first, second), out composite);
    }

    private static long Pair(int first, int second) => ((long)first << 21) | (uint)second;
}
