namespace Qwen.Grains;

/// <summary>
/// Degradation under backlog: configuration section <c>Inference:Degradation</c>. While more
/// than <see cref="BacklogThreshold"/> requests wait for the model, new chat replies are capped
/// at <see cref="CappedMaxNewTokens"/> tokens, so the queue drains faster; the reply says so.
/// </summary>
public sealed record DegradationOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>Waiting requests above which chat replies are capped.</summary>
    public int BacklogThreshold { get; init; } = 32;

    /// <summary>New tokens a chat reply may have while degraded.</summary>
    public int CappedMaxNewTokens { get; init; } = 16;

    /// <summary>The cap in force for a backlog of <paramref name="waiting"/> requests, or null when replies are not capped.</summary>
    public int? CapFor(int waiting) => Enabled && waiting > BacklogThreshold ? CappedMaxNewTokens : null;
}
