using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>
/// A generation request: prefilled, then decoded step by step until it stops. With a
/// <see cref="LabelProbe"/>, its labels are scored right after the prefill, before the first
/// token is chosen, so the caller hears the scores before any of the reply.
/// </summary>
internal sealed class GenerationJob : EngineRequest<GenerationResult>
{
    private readonly Action<int>? _onToken;
    private readonly Action<IReadOnlyList<LabelScore>>? _onScores;
    private readonly double[] _probeLogProbs;
    private IReadOnlyList<LabelScore>? _probeScores;

    public GenerationJob(GenerationRequest request, IEnumerable<int> eosTokenIds, Action<int>? onToken, SubmitOptions options,
        Action<IReadOnlyList<LabelScore>>? onScores = null)
        : base(request.PromptIds, request.PromptIds.Count + Math.Max(request.Options.MaxNewTokens, request.Probe?.ExtraTokens ?? 0),
            options.Priority ?? RequestPriority.Normal, options.Deadline)
    {
        Progress = new GenerationProgress(request, eosTokenIds);
        Probe = request.Probe;
        _probeLogProbs = new double[Probe?.Labels.Count ?? 0];
        _onToken = onToken;
        _onScores = onScores;
    }

    public override bool Decodes => true;

    public GenerationProgress Progress { get; }

    /// <summary>The labels to score after the prompt, before the reply (null: none).</summary>
    public LabelProbe? Probe { get; }

    /// <summary>Indices of the probe's labels that need a continuation step.</summary>
    public IEnumerable<int> LongProbeLabels =>
        Probe is { } probe ? Enumerable.Range(0, probe.Labels.Count).Where(k => probe.Labels[k].Count > 1) : [];

    /// <summary>Records log P(first label token | prompt, cue) for every probe label from the cue's last logits.</summary>
    public void ScoreProbeFirstTokens(ReadOnlySpan<float> logits)
    {
        var labels = Probe!.Labels;
        double logZ = LabelScorer.LogSumExp(logits);
        for (int k = 0; k < labels.Count; k++) _probeLogProbs[k] = logits[labels[k][0]] - logZ;
    }

    public void AddProbeContinuation(int label, double logProbability) => _probeLogProbs[label] += logProbability;

    /// <summary>The probe is scored: tells the caller (before any token of the reply).</summary>
    /// <returns>False when the job is answered (cancelled, or the callback failed).</returns>
    public bool CompleteProbe()
    {
        _probeScores = LabelScorer.ToScores(_probeLogProbs);
        if (IsDone) return false;
        try
        {
            _onScores?.Invoke(_probeScores);
        }
        catch (Exception e)
        {
            TryFail(e);
            return false;
        }
        return true;
    }

    /// <summary>Chooses the next token, streams it, and answers the caller when generation stops.</summary>
    /// <returns>True while the sequence goes on decoding.</returns>
    public bool Advance(ReadOnlySpan<float> logits)
    {
        int token = Progress.Next(logits);
        if (IsDone) return false; // cancelled meanwhile: the caller wants nothing more
        try
        {
            _onToken?.Invoke(token);
        }
        catch (Exception e)
        {
            TryFail(e);
            return false;
        }
        if (Progress.Finish is null) return true;
        TrySucceed(Progress.Result with { ProbeScores = _probeScores });
        return false;
    }
}
