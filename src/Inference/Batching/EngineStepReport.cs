namespace Qwen.Inference.Batching;

/// <summary>
/// What one engine step did: rows and columns of the prefill step (0 when none ran), rows of
/// the decode step (0 when none ran), requests left waiting, and the step's wall time.
/// </summary>
public sealed record EngineStepReport(long Step, int PrefillRows, int PrefillColumns, int DecodeRows, int Waiting, TimeSpan Elapsed);
