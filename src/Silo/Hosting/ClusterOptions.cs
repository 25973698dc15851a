namespace Qwen.Silo.Hosting;

/// <summary>
/// How this silo finds and joins its cluster (section "Cluster"). With <see cref="Redis"/> set the
/// silo uses Redis membership (clustered deployments); without it, localhost development clustering.
/// </summary>
public sealed record SiloClusterOptions
{
    public const string Section = "Cluster";

    /// <summary>StackExchange.Redis configuration of the membership store, e.g. <c>redis.internal:6379</c>.</summary>
    public string? Redis { get; init; }

    /// <summary>Silos and clients with the same cluster id form one cluster.</summary>
    public string ClusterId { get; init; } = "qwen";

    /// <summary>Stays the same across deployments and upgrades (storage keys may depend on it).</summary>
    public string ServiceId { get; init; } = "qwen-aio";

    /// <summary>Silo-to-silo port (Orleans default 11111); 0 in the embedded mode picks a free one.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Client gateway port (Orleans default 30000); 0 in the embedded mode picks a free one.</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>The address other silos and clients reach this silo at (a private address); default: this host's first.</summary>
    public string? AdvertisedAddress { get; init; }

    /// <summary>Bind the silo and gateway ports to the advertised address only, not to every interface.</summary>
    public bool ListenOnAdvertisedAddressOnly { get; init; } = true;

    public bool IsClustered => !string.IsNullOrWhiteSpace(Redis);
}
