using System.Runtime.InteropServices;

namespace Qwen.Inference.Generation;

/// <summary>
/// Hugging Face <c>RepetitionPenaltyLogitsProcessor</c>: every token already in the sequence gets its score
/// multiplied by the penalty when negative and divided by it otherwise, so penalties above 1 discourage it.
/// </summary>
internal static class RepetitionPenalty
{
    /// <summary>Writes penalised scores into <paramref name="scores"/>, reading the originals from <paramref name="logits"/>.</summary>
    /// <remarks>Reading the untouched original makes a repeated id idempotent, matching HF's gather/scatter.</remarks>
    public static void Apply(ReadOnlySpan<float> logits, Span<float> scores, IReadOnlyCollection<int> seenTokens, float penalty)
    {
        // Ids are checked even when the penalty is 1, so a caller bug surfaces regardless of the options.
        switch (seenTokens)
        {
            case int[] array:
                ApplyAll(logits, scores, array, penalty);
                break;
            case List<int> list:
                ApplyAll(logits, scores, CollectionsMarshal.AsSpan(list), penalty);
                break;
            default:
                foreach (int id in seenTokens) ApplyOne(logits, scores, id, penalty);
                break;
        }
    }

    private static void ApplyAll(ReadOnlySpan<float> logits, Span<float> scores, ReadOnlySpan<int> ids, float penalty)
    {
        foreach (int id in ids) ApplyOne(logits, scores, id, penalty);
    }

    private static void ApplyOne(ReadOnlySpan<float> logits, Span<float> scores, int id, float penalty)
    {
        if ((uint)id >= (uint)logits.Length)
            throw new ArgumentOutOfRangeException("seenTokens", id, $"seen token id is outside the vocabulary [0, {logits.Length})");
        float score = logits[id];
        scores[id] = score < 0 ? score * penalty : score / penalty;
    }
}
