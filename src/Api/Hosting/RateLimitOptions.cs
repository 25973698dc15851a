namespace Qwen.Api.Hosting;

/// <summary>
/// Rate limiting of /v1/ (section "RateLimit"): a token bucket per API key when keys are checked, with
/// its tenant's limits (<see cref="Tenants"/>, else the defaults here), or per client address without keys.
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

    /// <summary>
    /// Limits of each key of a tenant, by tenant id (e.g. <c>RateLimit:Tenants:acme:TokenLimit=50</c>); unset values are the defaults.
    /// </summary>
    public Dictionary<string, TenantRateLimitOverride> Tenants { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The limits of one key of <paramref name="tenant"/> (null: a client without a key).</summary>
    public TenantRateLimit For(string? tenant)
    {
        var own = tenant is not null && Tenants.TryGetValue(tenant, out var o) ? o : null;
        return new TenantRateLimit(own?.TokenLimit ?? TokenLimit, own?.TokensPerPeriod ?? TokensPerPeriod,
            own?.ReplenishmentPeriod ?? ReplenishmentPeriod);
    }
}

/// <summary>A tenant's own limits; what is not set is the default.</summary>
public sealed record TenantRateLimitOverride
{
    public int? TokenLimit { get; init; }
    public int? TokensPerPeriod { get; init; }
    public TimeSpan? ReplenishmentPeriod { get; init; }
}

public sealed record TenantRateLimit(int TokenLimit, int TokensPerPeriod, TimeSpan ReplenishmentPeriod);
