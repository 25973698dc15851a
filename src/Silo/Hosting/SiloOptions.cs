namespace Qwen.Silo.Hosting;

/// <summary>This silo's identity and cluster timing (section "Silo").</summary>
public sealed record SiloOptions
{
    public const string Section = "Silo";

    /// <summary>Unique id in the cluster; by default host name, port and a random suffix.</summary>
    public string? SiloId { get; init; }

    /// <summary>Base URL other processes use to reach this silo; by default the first --urls address.</summary>
    public string? AdvertisedEndpoint { get; init; }

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A silo whose last heartbeat is older than this is declared dead by the others.</summary>
    public TimeSpan DeadSiloTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest time a graceful stop waits for in-flight turns before Orleans deactivates the grains.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Start cold: register and heartbeat with the model not loaded (status cold, never routed to),
    /// and load it only when warmed up (POST /silo/warmup, sent by the Api when it needs more silos).
    /// Ignored by the embedded mode, whose one silo always starts warm.
    /// </summary>
    public bool StartCold { get; init; }
}
