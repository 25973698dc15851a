namespace Qwen.Inference.Batching;

/// <summary>One engine step at a time on the engine's thread, for one KV layout of the model.</summary>
internal interface IEngineSteps : IDisposable
{
    /// <summary>True while a prefill is under way or sequences are decoding.</summary>
    bool IsBusy { get; }

    /// <summary>KV positions the running requests hold (cached tokens of their rows).</summary>
    int KvTokensInUse { get; }

    /// <summary>KV positions allocated for the running requests (rows × length of the KV tensors).</summary>
    int KvCapacityTokens { get; }

    /// <summary>Gives memory kept for the next requests back (called after the engine has been idle a while).</summary>
    void ReleaseIdleMemory();

    EngineStepReport Run(SchedulerStep<EngineRequest> plan, CancellationToken stopping);

    /// <summary>Answers every request in flight with <paramref name="error"/> and drops their KV.</summary>
    void FailAll(Exception error);
}
