namespace Qwen.Api.Scaling;

/// <summary>The service-level objective the recommended silo count aims at (section "Autoscale").</summary>
public sealed record AutoscaleOptions
{
    public const string Section = "Autoscale";

    /// <summary>90th percentile latency of chat and sentiment requests the cluster should stay under.</summary>
    public double TargetP90Ms { get; init; } = 2000;

    /// <summary>Requests waiting or running per silo (as silos report in their heartbeats) the cluster should stay under.</summary>
    public double QueuePerSilo { get; init; } = 8;

    public int MinSilos { get; init; } = 1;

    public int MaxSilos { get; init; } = 8;

    /// <summary>How long the load must stay low before the recommendation drops by one silo (each step waits again).</summary>
    public TimeSpan ScaleInAfter { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Latency counts as low enough to scale in below this fraction of <see cref="TargetP90Ms"/>.</summary>
    public double ScaleInLatencyRatio { get; init; } = 0.5;

    /// <summary>Requests older than this are left out of the p90.</summary>
    public TimeSpan LatencyWindow { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Fewer completed requests than this (since the silo count last changed) give latency no say.</summary>
    public int MinLatencySamples { get; init; } = 5;

    public TimeSpan EvaluationInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Warm up cold silos (registered with Silo:StartCold) when the recommendation exceeds the warm ones.</summary>
    public bool WarmColdSilos { get; init; } = true;

    public AutoscaleOptions Validate()
    {
        if (TargetP90Ms <= 0) throw new ArgumentOutOfRangeException(nameof(TargetP90Ms), TargetP90Ms, "Autoscale:TargetP90Ms must be positive");
        if (QueuePerSilo <= 0) throw new ArgumentOutOfRangeException(nameof(QueuePerSilo), QueuePerSilo, "Autoscale:QueuePerSilo must be positive");
        if (MinSilos < 0 || MaxSilos < Math.Max(1, MinSilos))
            throw new ArgumentOutOfRangeException(nameof(MaxSilos), $"Autoscale:MinSilos ({MinSilos}) and MaxSilos ({MaxSilos}) need 0 <= MinSilos <= MaxSilos and MaxSilos >= 1");
        if (ScaleInAfter < TimeSpan.Zero || LatencyWindow <= TimeSpan.Zero || EvaluationInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ScaleInAfter), "Autoscale:ScaleInAfter, LatencyWindow and EvaluationInterval must be positive");
        if (ScaleInLatencyRatio is <= 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(ScaleInLatencyRatio), ScaleInLatencyRatio, "Autoscale:ScaleInLatencyRatio must be in (0, 1]");
        return this;
    }
}
