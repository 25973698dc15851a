using Qwen.Grains.Interfaces;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Grains;

/// <summary>
/// Continuous batching on the session: every request joins the engine's running batch.
/// Scoring (sentiment) goes ahead of generation; a full queue is refused as overloaded.
/// </summary>
internal sealed class BatchedBackend(BatchingEngine engine) : IInferenceBackend
{
    private readonly BatchingEngine _engine = engine;

    public BatchedBackend(DecoderSession session, BatchingOptions options) : this(new BatchingEngine(session, options))
    {
    }

    public int Queued => _engine.WaitingRequests;
    public int Running => _engine.RunningRequests;
    public int BatchSize => _engine.DecodeBatchSize;
    public (int Reserved, int Budget) KvTokens => (_engine.ReservedKvTokens, _engine.Options.KvBudgetTokens);

    public event Action<EngineStepReport>? StepCompleted
    {
        add => _engine.StepCompleted += value;
        remove => _engine.StepCompleted -= value;
    }

    public Task<IReadOnlyList<LabelScore>> ScoreAsync(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels,
        CancellationToken cancellationToken) =>
        Translated(_engine.ScoreAsync(promptIds, labels, cancellationToken: cancellationToken));

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, Action<int> onToken, CancellationToken cancellationToken) =>
        Translated(_engine.GenerateAsync(request, onToken: onToken, cancellationToken: cancellationToken));

    /// <summary>The engine's refusals in the grain contract's terms.</summary>
    private static async Task<T> Translated<T>(Task<T> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (EngineOverloadedException e)
        {
            throw new GrainCallException(GrainErrorKind.Overloaded, e.Message, e);
        }
        catch (ArgumentException e)
        {
            throw InferenceRequestRules.Invalid(e.Message, e);
        }
    }

    public void Dispose() => _engine.Dispose();
}
