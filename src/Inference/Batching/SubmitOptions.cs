namespace Qwen.Inference.Batching;

/// <summary>How the engine treats one request: its priority and its deadline.</summary>
public sealed record SubmitOptions
{
    public static SubmitOptions Default { get; } = new();

    /// <summary>Null: <see cref="RequestPriority.High"/> for scoring, <see cref="RequestPriority.Normal"/> for generation.</summary>
    public RequestPriority? Priority { get; init; }

    /// <summary>
    /// When the request must be done; past it, the request leaves the queue or the batch at the
    /// next step and fails with <see cref="RequestDeadlineExceededException"/>.
    /// </summary>
    public DateTimeOffset? Deadline { get; init; }
}
