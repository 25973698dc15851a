namespace Qwen.Silo.Runtime;

/// <summary>The silo's grain runtime: configuration section <c>GrainRuntime</c>.</summary>
public sealed record GrainRuntimeOptions
{
    public const string SectionName = "GrainRuntime";

    /// <summary>How often idle activations are looked for (the idle time itself is <c>Conversations:IdleTimeout</c>).</summary>
    public TimeSpan IdleSweepInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Calls one conversation may have waiting; one more is refused as overloaded.</summary>
    public int MaxQueuedTurnsPerConversation { get; init; } = 64;

    public GrainRuntimeOptions Validate()
    {
        if (IdleSweepInterval <= TimeSpan.Zero)
            throw new ArgumentException($"{SectionName}: IdleSweepInterval must be positive but was {IdleSweepInterval}");
        if (MaxQueuedTurnsPerConversation < 1)
            throw new ArgumentException($"{SectionName}: MaxQueuedTurnsPerConversation must be at least 1 but was {MaxQueuedTurnsPerConversation}");
        return this;
    }
}
