namespace Qwen.Inference.Batching;

internal enum DropReason
{
    Cancelled,
    DeadlineExpired,
}

/// <summary>A request the scheduler removed: it ran no further and its slot is free.</summary>
internal readonly record struct DroppedRequest<T>(T Request, DropReason Reason);

/// <summary>
/// One step's plan: requests dropped since the last plan, the requests that start prefilling
/// (none when nothing may start, or, for a padded engine, while an earlier group still
/// prefills), and the decoding sequences.
/// </summary>
internal sealed record SchedulerStep<T>(IReadOnlyList<DroppedRequest<T>> Dropped, IReadOnlyList<T> Prefill, IReadOnlyList<T> Decode)
{
    public bool IsIdle => Dropped.Count == 0 && Prefill.Count == 0 && Decode.Count == 0;
}
