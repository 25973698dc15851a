using Qwen.Inference.Engine;

namespace Qwen.Inference.Generation;

/// <summary>One candidate label's score: log P(label tokens | prompt), and its probability among the candidates.</summary>
public sealed record LabelScore(int LabelIndex, double LogProbability, double Probability);

/// <summary>
/// Scores candidate continuations (classification labels) without generating text: one
/// prefill gives every label's first-token probability; labels longer than one token need
/// a single extra step in which all of them run side by side on copies of the prompt's cache.
/// </summary>
public sealed class LabelScorer
{
    private readonly DecoderSession _session;

    public LabelScorer(DecoderSession session) => _session = session;

    public IReadOnlyList<LabelScore> Score(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels,
        CancellationToken cancellationToken = default) =>
        ScoreBatch([promptIds], labels, cancellationToken)[0];

    /// <summary>Scores the same labels after each of several prompts, all in one batch.</summary>
    public IReadOnlyList<IReadOnlyList<LabelScore>> ScoreBatch(IReadOnlyList<IReadOnlyList<int>> prompts,
        IReadOnlyList<IReadOnlyList<int>> labels, CancellationToken cancellationToken = default)
    {
        RequestValidation.Scoring(_session, prompts, labels);
        int batch = prompts.Count;
        var logProbs = new double[batch, labels.Count];

        var layout = new BatchLayout(prompts);
        using var cache = _session.CreateCache(batch);
        using (var logits = _session.Step(layout.InputIds, layout.AttentionMask, layout.PositionIds, layout.Length, cache, 1, cancellationToken))
        {
            for (int b = 0; b < batch; b++)
            {
                var row = logits.Last(b);
                double logZ = LogSumExp(row);
                for (int k = 0; k < labels.Count; k++) logProbs[b, k] = row[labels[k][0]] - logZ;
            }
        }

        int[] longLabels = Enumerable.Range(0, labels.Count).Where(k => labels[k].Count > 1).ToArray();
        if (longLabels.Length > 0) ScoreContinuations(prompts, labels, longLabels, layout, cache, logProbs, cancellationToken);

        var results = new IReadOnlyList<LabelScore>[batch];
        for (int b = 0; b < batch; b++) results[b] = ToScores(Enumerable.Range(0, labels.Count).Select(k => logProbs[b, k]).ToArray());
        return results;
    }

    /// <summary>
    /// One step over (prompt × multi-token label) rows: each row feeds its label's tokens but
    /// the last (right-padded to the longest), and the logits at each position score the next
    /// label token.
    /// </summary>
    private void ScoreContinuations(IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<IReadOnlyList<int>> labels,
        int[] longLabels, BatchLayout layout, KvCache promptCache, double[,] logProbs, CancellationToken cancellationToken)
    {
        int copies = longLabels.Length;
        int rows = prompts.Count * copies;
        int width = longLabels.Max(k => labels[k].Count) - 1;
        int past = layout.Length;
        var ids = new long[rows * width];
        var positions = new long[rows * width];
        var mask = new long[rows * (past + width)];
        for (int b = 0; b < prompts.Count; b++)
        {
            for (int c = 0; c < copies; c++)
            {
                int row = b * copies + c;
                var label = labels[longLabels[c]];
                Array.Copy(layout.AttentionMask, b * past, mask, row * (past + width), past);
                for (int t = 0; t < width; t++)
                {
                    bool real = t < label.Count - 1;
                    ids[row * width + t] = real ? label[t] : BatchLayout.PadTokenId;
                    positions[row * width + t] = prompts[b].Count + (real ? t : label.Count - 2);
                    mask[row * (past + width) + past + t] = real ? 1 : 0;
                }
            }
        }
        using var cache = promptCache.RepeatEach(copies);
        using var logits = _session.Step(ids, mask, positions, width, cache, 0, cancellationToken);
        int offset = logits.Positions - width;
        for (int b = 0; b < prompts.Count; b++)
        {
            for (int c = 0; c < copies; c++)
            {
                var label = labels[longLabels[c]];
                for (int t = 0; t + 1 < label.Count; t++)
                {
                    var row = logits.Row(b * copies + c, offset + t);
                    logProbs[b, longLabels[c]] += row[label[t + 1]] - LogSumExp(row);
                }
            }
        }
    }

    /// <summary>Scores from each label's log-probability: the probabilities are a softmax over the candidates.</summary>
    internal static IReadOnlyList<LabelScore> ToScores(IReadOnlyList<double> logProbs)
    {
        double max = logProbs.Max();
        double norm = logProbs.Sum(lp => Math.Exp(lp - max));
        return logProbs.Select((lp, k) => new LabelScore(k, lp, Math.Exp(lp - max) / norm)).ToArray();
    }

    internal static double LogSumExp(ReadOnlySpan<float> row)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
        double sum = 0;
        foreach (float v in row) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
