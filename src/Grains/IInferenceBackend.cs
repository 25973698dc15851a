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

    /// <summary>Sequences in the latest model step (decode rows when batching, running requests otherwise).</summary>
    int BatchSize { get; }

    /// <summary>KV positions the running requests reserve, and the most they may (0 and 0 when not batching).</summary>
    (int Reserved, int Budget) KvTokens { get; }

    /// <summary>After every batched model step (never raised when not batching).</summary>
    event Action<EngineStepReport>? StepCompleted;

    /// <exception cref="Qwen.Grains.Interfaces.GrainCallException">Overloaded: no room to queue the request.</exception>
    Task<IReadOnlyList<LabelScore>> ScoreAsync(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels, CancellationToken cancellationToken);

    /// <param name="onToken">Sees each token as soon as it is chosen, in order, never concurrently.</param>
    /// <exception cref="Qwen.Grains.Interfaces.GrainCallException">Overloaded: no room to queue the request.</exception>
    Task<GenerationResult> GenerateAsync(GenerationRequest request, Action<int> onToken, CancellationToken cancellationToken);
}
