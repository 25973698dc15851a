using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>
/// Executes batched model steps on KV grids: prefill chunks, decode steps, label
/// continuations. It knows tensors and rows, not requests; the engine decides what runs.
/// Each step's present KV becomes the grid's past without a copy.
/// </summary>
internal sealed class ModelRunner
{
    private readonly DecoderSession _session;
    private readonly KvGridComposer _composer;

    public ModelRunner(DecoderSession session)
    {
        _session = session;
        _composer = new KvGridComposer(session.Io.Layers);
    }

    public DecoderSession Session => _session;

    public PrefillRun StartPrefill(IReadOnlyList<IReadOnlyList<int>> prompts)
    {
        var layout = new BatchLayout(prompts);
        var grid = new KvGrid(_session.CreateCache(layout.BatchSize), [], new int[layout.BatchSize]);
        return new PrefillRun(layout, grid);
    }

    /// <summary>
    /// Computes the next columns of a prefill: as many as fit in <paramref name="maxTokens"/>
    /// positions over all rows, at least one. The logits are those of the chunk's last column,
    /// which holds every prompt's last token once the run is complete.
    /// </summary>
    public StepLogits Prefill(PrefillRun run, int maxTokens, CancellationToken cancellationToken)
    {
        if (run.IsComplete) throw new InvalidOperationException("the prefill is already complete");
        var layout = run.Layout;
        int rows = run.Rows, start = run.Done, width = Math.Min(run.Remaining, Math.Max(1, maxTokens / rows));
        int end = start + width;
        var ids = new long[rows * width];
        var positions = new long[rows * width];
        var mask = new long[rows * end];
        var added = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            int from = r * layout.Length;
            Array.Copy(layout.InputIds, from + start, ids, r * width, width);
            Array.Copy(layout.PositionIds, from + start, positions, r * width, width);
            Array.Copy(layout.AttentionMask, from, mask, r * end, end);
            added[r] = layout.AttentionMask.AsSpan(from + start, width).Count(1L);
        }
        var logits = _session.Step(ids, mask, positions, width, run.Grid.Cache, 1, cancellationToken);
        run.Grid.Advance(mask, added);
        run.Done = end;
        return logits;
    }

    /// <summary>
    /// A new grid of the given rows (of one or several grids; a row may repeat), right-aligned
    /// with padding on the left; the sources are left as they are.
    /// </summary>
    public KvGrid Compose(IReadOnlyList<GridRow> rows) => _composer.Compose(rows);

    /// <summary>One decode step: appends <paramref name="tokens"/> (one per row) at each row's next position.</summary>
    public StepLogits Decode(KvGrid grid, ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        int rows = grid.Rows;
        if (tokens.Length != rows) throw new ArgumentException($"{tokens.Length} tokens for {rows} rows", nameof(tokens));
        var ids = new long[rows];
        var positions = new long[rows];
        var ones = new long[rows];
        for (int r = 0; r < rows; r++)
        {
            ids[r] = tokens[r];
            positions[r] = grid.RealLengths[r];
            ones[r] = 1;
        }
        var mask = BatchLayout.ExtendMask(grid.Mask, rows, ones);
        var logits = _session.Step(ids, mask, positions, 1, grid.Cache, 1, cancellationToken);
        var added = new int[rows];
        Array.Fill(added, 1);
        grid.Advance(mask, added);
        return logits;
    }

    /// <summary>
    /// For each (prompt row, label of two or more tokens): log P(label[1..] | prompt, label[0]),
    /// from one step in which every pair runs on its own copy of the prompt's KV, feeding the
    /// label's tokens but the last (right-padded to the longest).
    /// </summary>
    public double[] ScoreContinuations(IReadOnlyList<GridRow> rows, IReadOnlyList<IReadOnlyList<int>> labels, CancellationToken cancellationToken)
    {
        if (rows.Count != labels.Count) throw new ArgumentException($"{labels.Count} labels for {rows.Count} rows", nameof(labels));
        if (labels.Any(l => l.Count < 2)) throw new ArgumentException("only labels of two or more tokens need a continuation", nameof(labels));
        using var grid = _composer.Compose(rows);
        int n = rows.Count, past = grid.Length, width = labels.Max(l => l.Count) - 1;
        var ids = new long[n * width];
        var positions = new long[n * width];
        var mask = new long[n * (past + width)];
        for (int i = 0; i < n; i++)
        {
            var label = labels[i];
            Array.Copy(grid.Mask, i * past, mask, i * (past + width), past);
            for (int t = 0; t < width; t++)
            {
                bool real = t < label.Count - 1;
                ids[i * width + t] = real ? label[t] : BatchLayout.PadTokenId;
                positions[i * width + t] = grid.RealLengths[i] + (real ? t : label.Count - 2);
                mask[i * (past + width) + past + t] = real ? 1 : 0;
            }
        }
        using var logits = _session.Step(ids, mask, positions, width, grid.Cache, 0, cancellationToken);
        int offset = logits.Positions - width;
        var logProbs = new double[n];
        for (int i = 0; i < n; i++)
        {
            var label = labels[i];
            for (int t = 0; t + 1 < label.Count; t++)
            {
                var row = logits.Row(i, offset + t);
                logProbs[i] += row[label[t + 1]] - LabelScorer.LogSumExp(row);
            }
        }
        return logProbs;
    }
    /// <summary>
    /// For each prompt row and its probe: log P(label | prompt, cue) of every label, from one step
    /// in which every (row, label) pair runs on its own copy of the prompt's KV, feeding the cue
    /// and the label's tokens but the last (right-padded to the longest). The rows' own KV is left as it is.
    /// </summary>
    public double[][] ScoreProbes(IReadOnlyList<GridRow> rows, IReadOnlyList<LabelProbe> probes, CancellationToken cancellationToken)
    {
        if (rows.Count != probes.Count) throw new ArgumentException($"{probes.Count} probes for {rows.Count} rows", nameof(probes));
        var pairs = rows.SelectMany((row, i) => probes[i].Labels.Select((_, k) => (Row: row, Probe: i, Label: k))).ToArray();
        using var grid = _composer.Compose(pairs.Select(p => p.Row).ToArray());
        int n = pairs.Length, past = grid.Length;
        int width = pairs.Max(p => probes[p.Probe].CueIds.Count + probes[p.Probe].Labels[p.Label].Count - 1);
        var ids = new long[n * width];
        var positions = new long[n * width];
        var mask = new long[n * (past + width)];
        for (int i = 0; i < n; i++)
        {
            var probe = probes[pairs[i].Probe];
            int[] fed = [.. probe.CueIds, .. probe.Labels[pairs[i].Label].SkipLast(1)];
            Array.Copy(grid.Mask, i * past, mask, i * (past + width), past);
            for (int t = 0; t < width; t++)
            {
                bool real = t < fed.Length;
                ids[i * width + t] = real ? fed[t] : BatchLayout.PadTokenId;
                positions[i * width + t] = grid.RealLengths[i] + (real ? t : fed.Length - 1);
                mask[i * (past + width) + past + t] = real ? 1 : 0;
            }
        }
        using var logits = _session.Step(ids, mask, positions, width, grid.Cache, 0, cancellationToken);
        int offset = logits.Positions - width;
        var scores = probes.Select(p => new double[p.Labels.Count]).ToArray();
        for (int i = 0; i < n; i++)
        {
            var (_, p, k) = pairs[i];
            var label = probes[p].Labels[k];
            int cue = probes[p].CueIds.Count;
            for (int j = 0; j < label.Count; j++)
            {
                var row = logits.Row(i, offset + cue - 1 + j);
                scores[p][k] += row[label[j]] - LabelScorer.LogSumExp(row);
            }
        }
        return scores;
    }
}
