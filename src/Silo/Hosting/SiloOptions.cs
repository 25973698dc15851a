namespace Qwen.Silo.Hosting;

/// <summary>This silo's identity and start mode (section "Silo"); how it joins the cluster is section "Cluster".</summary>
public sealed record SiloOptions
{
    public const string Section = "Silo";

    /// <summary>The silo's name in logs, metrics and replies; by default host name and silo port.</summary>
    public string? SiloId { get; init; }

    /// <summary>Longest time a graceful stop waits for in-flight turns before Orleans deactivates the grains.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Start cold: join the cluster with the model not loaded (no conversations are placed here, its
    /// worker refuses calls) and load it only when warmed up (ISiloGrain.WarmUpAsync, sent by the Api
    /// when it needs more silos). Ignored by the embedded mode, whose one silo always starts warm.
    /// </summary>
    public bool StartCold { get; init; }
}
