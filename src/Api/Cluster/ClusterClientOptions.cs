namespace Qwen.Api.Cluster;

/// <summary>
/// Which cluster the Api serves (section "Cluster", the same section the silos read). With
/// <see cref="Redis"/> set the Api is an Orleans client that finds the silos' gateways through the
/// Redis membership; without it, the embedded default hosts one silo in this process.
/// </summary>
public sealed record ClusterClientOptions
{
    public const string Section = "Cluster";

    /// <summary>StackExchange.Redis configuration of the membership store, e.g. <c>redis.internal:6379</c>.</summary>
    public string? Redis { get; init; }

    public string ClusterId { get; init; } = "qwen";

    public string ServiceId { get; init; } = "qwen-aio";

    /// <summary>How long a grain call may take before Orleans gives up on it (the request's own deadline usually ends it first).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How often the client re-reads the silos' gateways from the membership (Orleans' default: 1 minute). Short, so that
    /// after a restart of every silo the Api finds the new ones within seconds.
    /// </summary>
    public TimeSpan GatewayListRefreshPeriod { get; init; } = TimeSpan.FromSeconds(5);

    public bool IsClustered => !string.IsNullOrWhiteSpace(Redis);
}
