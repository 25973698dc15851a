namespace Qwen.Inference.Batching;

/// <summary>
/// What one engine step did: rows and columns of the prefill step (0 when none ran; on KV slots,
/// the prompt positions computed, label probes included), rows of the decode step (0 when none
/// ran), requests left waiting, the step's wall time, and the part of it spent prefilling.
/// </summary>
public sealed record EngineStepReport(long Step, int PrefillRows, int PrefillColumns, int DecodeRows, int Waiting, TimeSpan Elapsed,
    TimeSpan PrefillElapsed = default)
{
    /// <summary>
    /// Prompt positions the prefill computed: on KV grids every row of the chunk (padding
    /// included), on KV slots the columns, which already sum the prompts' chunks.
    /// </summary>
    public int PrefillTokens { get; init; } = PrefillRows * PrefillColumns;

    /// <summary>
    /// KV positions the decode rows attended over, summed (each row's cached length plus its new
    /// token); 0 where the engine does not report it (KV grids).
    /// </summary>
    public long DecodeContextTokens { get; init; }

    /// <summary>
    /// Prompt positions computed in the decode call's lane (models with a prompt lane), part of
    /// <see cref="PrefillTokens"/>: they cost no model call of their own.
    /// </summary>
    public int LaneTokens { get; init; }
}
