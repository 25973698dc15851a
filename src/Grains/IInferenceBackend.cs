using Qwen.Inference.Batching;
using Qwen.Inference.Generation;

namespace Qwen.Grains;

/// <summary>
/// How the worker's model calls run. The worker builds prompts and reads results; a backend
/// decides when the model work happens, off the caller's thread.
/// </summary>
internal interface IInferenceBackend : IDisposable
{
    int Queued { get; }
    int Running { get; }

    /// <summary>Sequences in the latest model step (sequential: requests running).</summary>
    int BatchSize { get; }

    /// <summary>Sequences one step may hold (sequential: requests running at once).</summary>
    int MaxBatchSize { get; }

    int MaxQueueLength { get; }

    /// <summary>Model steps run since start (0 when the backend does not count them).</summary>
    long Steps { get; }

    /// <summary>Rows computed by decode steps since start (0 when the backend does not count them).</summary>
    long DecodedRows { get; }

    TimeSpan LastStepTime { get; }

    /// <summary>The KV cache's use, reservation and prefix cache (all 0 when not batching).</summary>
    KvCacheFigures Kv { get; }

    /// <summary>After every batched model step (never raised when not batching).</summary>
    event Action<EngineStepReport>? StepCompleted;

    /// <param name="deadline">Past it the request leaves the queue or the batch and fails as Timeout.</param>
    /// <exception cref="Qwen.Grains.Interfaces.GrainCallException">Overloaded: no room to queue the request; Timeout: the deadline passed.</exception>
    Task<IReadOnlyList<LabelScore>> ScoreAsync(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels, DateTimeOffset? deadline,
        CancellationToken cancellationToken);

    /// <param name="onToken">Sees each token as soon as it is chosen, in order, never concurrently.</param>
    /// <param name="onScores">With a <see cref="GenerationRequest.Probe"/>: sees its label scores once, before the first token.</param>
    /// <exception cref="Qwen.Grains.Interfaces.GrainCallException">Overloaded: no room to queue the request; Timeout: the deadline passed.</exception>
    Task<GenerationResult> GenerateAsync(GenerationRequest request, Action<int> onToken, Action<IReadOnlyList<LabelScore>>? onScores,
        DateTimeOffset? deadline, CancellationToken cancellationToken);
}
