namespace Qwen.Inference.Batching;

/// <summary>What the <see cref="Scheduler{T}"/> knows of a request: sizes, priority, deadline, nothing about tensors.</summary>
internal interface ISchedulable
{
    RequestPriority Priority { get; }

    /// <summary>True for generation, which decodes after its prefill; false for scoring, which ends with it.</summary>
    bool Decodes { get; }

    int PromptTokens { get; }

    /// <summary>KV positions the request may reach: prompt plus max new tokens (or its longest label).</summary>
    int ReservedTokens { get; }

    DateTimeOffset? Deadline { get; }

    /// <summary>Set by any thread; the scheduler drops the request at its next plan.</summary>
    bool IsCancelled { get; }
}
