using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Grains;

/// <summary>
/// One request per model call, a few at once on thread-pool threads: the baseline. Deadlines
/// are enforced by the worker's cancellation (this backend has no steps to drop requests between).
/// </summary>
internal sealed class SequentialBackend(DecoderSession session, int maxConcurrent, int maxQueued) : IInferenceBackend
{
    private readonly ConcurrencyLimitedScheduler _scheduler = new(maxConcurrent, maxQueued);
    private readonly Generator _generator = new(session);
    private readonly LabelScorer _scorer = new(session);

    public int Queued => _scheduler.Queued;
    public int Running => _scheduler.Running;
    public int BatchSize => _scheduler.Running;
    public int MaxBatchSize => maxConcurrent;
    public int MaxQueueLength => maxQueued;
    public long Steps => 0;
    public long DecodedRows => 0;
    public TimeSpan LastStepTime => TimeSpan.Zero;
    public KvCacheFigures Kv => default;

    public event Action<EngineStepReport>? StepCompleted
    {
        add { }
        remove { }
    }

    public Task<IReadOnlyList<LabelScore>> ScoreAsync(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels,
        DateTimeOffset? deadline, CancellationToken cancellationToken) =>
        _scheduler.RunAsync(ct => _scorer.Score(promptIds, labels, ct), cancellationToken);

    /// <remarks>
    /// A probe runs here as its own scoring call on <c>prompt ++ cue</c> before the generation: the
    /// baseline shares no KV between the two (the batched engine does).
    /// </remarks>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, Action<int> onToken, Action<IReadOnlyList<LabelScore>>? onScores,
        DateTimeOffset? deadline, CancellationToken cancellationToken) =>
        _scheduler.RunAsync(ct =>
        {
            IReadOnlyList<LabelScore>? scores = null;
            if (request.Probe is { } probe)
            {
                scores = _scorer.Score(probe.PromptWithCue(request.PromptIds), probe.Labels, ct);
                onScores?.Invoke(scores);
            }
            return _generator.Generate(request.PromptIds, request.Options, onToken, ct) with { ProbeScores = scores };
        }, cancellationToken);

    public void Dispose()
    {
        // Nothing of its own: the work runs on thread-pool threads and ends with its callers.
    }
}
