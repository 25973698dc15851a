namespace Qwen.Inference.Generation;

/// <summary>
/// Top-p with Hugging Face <c>TopPLogitsWarper</c> semantics: sorted ascending, a token is removed when the
/// cumulative probability up to and including it is at most 1 - top_p; the most probable token always stays.
/// Equal logits are ordered by token id, the lower id counting as more probable (as argmax breaks ties).
/// </summary>
/// <remarks>
/// Rather than sorting the whole vocabulary, probability mass is first summed in narrow bands of weight.
/// Bands whose mass (with all lower bands) stays under the cut are removed without sorting, bands above the
/// crossing are kept without sorting, and only the few bands around the crossing are sorted to place it
/// exactly. A band's tokens are all less probable than any higher band's, so this equals the full sort.
/// </remarks>
internal sealed class NucleusFilter
{
    // Bands are the top 16 bits of a double weight in [0, 1]: exponent plus 4 mantissa bits (1/16 octave).
    private const int BandShift = 48;
    private const int BandCount = (int)(0x3FF0_0000_0000_0000UL >> BandShift) + 1; // band of 1.0 is the last

    // Tokens this close to the cut go through the exact sorted test, so summation order cannot misplace them.
    private const double Margin = 1e-9;

    private readonly double[] _bandMass = new double[BandCount];
    private ulong[] _sortKeys = [];

    /// <summary>
    /// Drops the candidates top-p removes: those certainly below the cut are compacted away, those found
    /// below it by the exact test get weight 0. Survivors stay in id order at the front of the spans.
    /// </summary>
    /// <param name="logits">Final logits, indexed by token id; they define the order.</param>
    /// <param name="ids">Candidate token ids in ascending order.</param>
    /// <param name="weights">Their unnormalised probabilities, at most 1; every other token has probability 0.</param>
    /// <returns>Number of candidates left.</returns>
    public int Apply(ReadOnlySpan<float> logits, Span<int> ids, Span<double> weights, double topP)
    {
        Span<double> bands = _bandMass;
        bands.Clear();
        foreach (double w in weights) bands[Band(w)] += w;
        double total = 0;
        foreach (double mass in bands) total += mass;

        double removable = (1 - topP) * total;
        double margin = Margin * total;

        // Bands below `first` hold only tokens whose ascending cumulative mass is under the cut;
        // above `last`, every token's cumulative mass is past it.
        int first = 0;
        double lowerMass = 0;
        while (first < BandCount - 1 && lowerMass + bands[first] <= removable - margin) lowerMass += bands[first++];
        int last = first;
        double throughLast = lowerMass + bands[first];
        while (last < BandCount - 1 && throughLast <= removable + margin) throughLast += bands[++last];

        if (_sortKeys.Length < ids.Length) _sortKeys = new ulong[ids.Length];
        // Branch-free compaction: whether a token stays is close to a coin flip in flat distributions.
        int kept = 0, sorted = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            double w = weights[i];
            int band = Band(w);
            int id = ids[i];
            ids[kept] = id;
            weights[kept] = w;
            _sortKeys[sorted] = SortKey(logits[id], kept);
            sorted += band >= first && band <= last ? 1 : 0;
            kept += band >= first ? 1 : 0;
        }

        Span<ulong> keys = _sortKeys.AsSpan(0, sorted);
        keys.Sort();
        double cumulative = lowerMass;
        // Rank 0, the most probable sorted token, is never removed (HF's min_tokens_to_keep = 1).
        for (int rank = sorted - 1; rank > 0; rank--)
        {
            int position = (int)(uint)keys[rank];
            cumulative += weights[position];
            if (cumulative > removable) break;
            weights[position] = 0;
        }
        return kept;
    }

    /// <summary>Ascending keys put the most probable first and equal logits by ascending id (position follows id).</summary>
    private static ulong SortKey(float logit, int position)
    {
        uint descending = ~FloatOrder.ToKey(logit + 0f); // + 0 turns -0 into +0, the same logit
        return ((ulong)descending << 32) | (uint)position;
    }

    private static int Band(double weight) =>
        Math.Min((int)(BitConverter.DoubleToUInt64Bits(weight) >> BandShift), BandCount - 1);
}
