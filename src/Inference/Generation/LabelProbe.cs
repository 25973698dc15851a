namespace Qwen.Inference.Generation;

/// <summary>
/// A question put to a generation's prompt before its reply: the cue tokens are fed after the
/// prompt, the candidate labels are scored there (as <see cref="LabelScorer"/> scores them after
/// <c>prompt ++ cue</c>), and then the cue is dropped again, so the reply continues from the
/// prompt alone. The prompt's KV serves both: the probe costs the cue's tokens, not a second prefill.
/// </summary>
/// <param name="CueIds">Fed after the prompt; at least one token.</param>
/// <param name="Labels">Two or more candidate continuations of the cue, each one or more tokens.</param>
public sealed record LabelProbe(IReadOnlyList<int> CueIds, IReadOnlyList<IReadOnlyList<int>> Labels)
{
    /// <summary>The prompt the labels are scored after: <paramref name="promptIds"/> then the cue.</summary>
    public int[] PromptWithCue(IReadOnlyList<int> promptIds) => [.. promptIds, .. CueIds];

    /// <summary>Positions the probe occupies beyond the prompt at most (the cue and the longest label).</summary>
    public int ExtraTokens => CueIds.Count + Labels.Max(l => l.Count);

    /// <summary>Model positions the probe computes: the cue, plus every label's tokens after its first.</summary>
    public int ComputedTokens => CueIds.Count + Labels.Sum(l => l.Count - 1);
}
