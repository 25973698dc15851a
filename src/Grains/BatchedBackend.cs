using Qwen.Grains.Interfaces;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Grains;

/// <summary>
/// Continuous batching on the session: every request joins the engine's running batch.
/// Scoring (sentiment) goes ahead of generation; a full queue is refused as overloaded; a
/// request past its deadline leaves the batch at the next step and fails as Timeout.
/// </summary>
internal sealed class BatchedBackend : IInferenceBackend
{
    private readonly BatchingEngine _engine;
    private long _steps;
    private long _decodedRows;
    private long _lastStepTicks;

    public BatchedBackend(BatchingEngine engine)
    {
        _engine = engine;
        _engine.StepCompleted += report =>
        {
            Volatile.Write(ref _steps, report.Step);
            Interlocked.Add(ref _decodedRows, report.DecodeRows);
            Volatile.Write(ref _lastStepTicks, report.Elapsed.Ticks);
        };
    }

    public BatchedBackend(DecoderSession session, BatchingOptions options) : this(new BatchingEngine(session, options))
    {
    }

    /// <summary>Keeps the KV of a fixed prompt prefix (a system prompt) in the engine's prefix cache for good.</summary>
    public void PinPrefix(IReadOnlyList<int> tokens) => _engine.PinPrefix(tokens);

    public int Queued => _engine.WaitingRequests;
    public int Running => _engine.RunningRequests;
    public int BatchSize => _engine.DecodeBatchSize;
    public int MaxBatchSize => _engine.Options.MaxBatchSize;
    public int MaxQueueLength => _engine.Options.MaxQueueLength;
    public long Steps => Volatile.Read(ref _steps);
    public long DecodedRows => Interlocked.Read(ref _decodedRows);
    public TimeSpan LastStepTime => TimeSpan.FromTicks(Volatile.Read(ref _lastStepTicks));
    public KvCacheFigures Kv => new(_engine.KvTokensInUse, _engine.KvCapacityTokens, _engine.ReservedKvTokens, _engine.Options.KvBudgetTokens,
        _engine.PrefixCacheHits, _engine.PrefixCacheMisses, _engine.PrefixCacheHitTokens, _engine.PrefixCacheTokens, _engine.KvBytesPerPosition);

    public event Action<EngineStepReport>? StepCompleted
    {
        add => _engine.StepCompleted += value;
        remove => _engine.StepCompleted -= value;
    }

    public Task<IReadOnlyList<LabelScore>> ScoreAsync(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels,
        DateTimeOffset? deadline, CancellationToken cancellationToken) =>
        Translated(_engine.ScoreAsync(promptIds, labels, Submit(deadline), cancellationToken), deadline);

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, Action<int> onToken, Action<IReadOnlyList<LabelScore>>? onScores,
        DateTimeOffset? deadline, CancellationToken cancellationToken) =>
        Translated(_engine.GenerateAsync(request, Submit(deadline), onToken, onScores, cancellationToken), deadline);

    private static SubmitOptions? Submit(DateTimeOffset? deadline) => deadline is null ? null : new SubmitOptions { Deadline = deadline };

    /// <summary>The engine's refusals in the grain contract's terms.</summary>
    private static async Task<T> Translated<T>(Task<T> call, DateTimeOffset? deadline)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (EngineOverloadedException e)
        {
            throw new GrainCallException(GrainErrorKind.Overloaded, e.Message, e);
        }
        catch (RequestDeadlineExceededException e)
        {
            throw CallDeadline.Exceeded(deadline, "before the model finished it", e);
        }
        catch (ArgumentException e)
        {
            throw InferenceRequestRules.Invalid(e.Message, e);
        }
    }

    public void Dispose() => _engine.Dispose();
}
