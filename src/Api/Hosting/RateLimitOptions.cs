namespace Qwen.Api.Hosting;

/// <summary>
/// Per-client rate limiting of /v1/ (section "RateLimit"): a token bucket per API key (the
/// <see cref="ClientKeyHeader"/> header, or an Authorization bearer token), else per client address.
/// </summary>
public sealed record RateLimitOptions
{
    public const string Section = "RateLimit";

    public bool Enabled { get; init; } = true;

    /// <summary>The bucket's size: requests a client may send in a burst (generous: the limit is against abuse, not for load shaping).</summary>
    public int TokenLimit { get; init; } = 1000;

    /// <summary>Tokens added back every <see cref="ReplenishmentPeriod"/>.</summary>
    public int TokensPerPeriod { get; init; } = 200;

    public TimeSpan ReplenishmentPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The header that names a client's API key.</summary>
    public string ClientKeyHeader { get; init; } = "X-Api-Key";
}
