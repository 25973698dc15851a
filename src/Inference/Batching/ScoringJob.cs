using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>
/// A label-scoring request: its prefill gives each label's first-token log-probability; labels
/// of several tokens add one continuation step; then it is done (it never decodes).
/// </summary>
internal sealed class ScoringJob : EngineRequest<IReadOnlyList<LabelScore>>
{
    private readonly double[] _logProbs;

    public ScoringJob(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels, SubmitOptions options)
        : base(promptIds, promptIds.Count + labels.Max(l => l.Count), options.Priority ?? RequestPriority.High, options.Deadline)
    {
        Labels = labels;
        _logProbs = new double[labels.Count];
    }

    public override bool Decodes => false;

    public IReadOnlyList<IReadOnlyList<int>> Labels { get; }

    /// <summary>Indices of the labels that need a continuation step.</summary>
    public IEnumerable<int> LongLabels => Enumerable.Range(0, Labels.Count).Where(k => Labels[k].Count > 1);

    /// <summary>Records log P(first label token | prompt) for every label from the prompt's last logits.</summary>
    public void ScoreFirstTokens(ReadOnlySpan<float> logits)
    {
        double logZ = LabelScorer.LogSumExp(logits);
        for (int k = 0; k < Labels.Count; k++) _logProbs[k] = logits[Labels[k][0]] - logZ;
    }

    public void AddContinuation(int label, double logProbability) => _logProbs[label] += logProbability;

    public void Complete() => TrySucceed(LabelScorer.ToScores(_logProbs));
}
