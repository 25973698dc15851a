namespace Qwen.Api.Security;

/// <summary>
/// API keys (section "Auth"). Keys come from this section and <see cref="KeysFile"/> (the embedded
/// default) and, in clustered mode, from the cluster's key table (<c>qwen keys</c>), asked through the
/// silos and cached for <see cref="KeyCacheDuration"/>.
/// </summary>
public sealed record AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Every request is let in, as the default tenant; the one way to run a clustered Api without keys.</summary>
    public bool Disabled { get; init; }

    /// <summary>Keys configured here (each with its tenant; a plain key or its SHA-256 hash).</summary>
    public List<ConfiguredApiKey> Keys { get; init; } = [];

    /// <summary>A JSON file holding an array of keys shaped like <see cref="Keys"/>' entries (readable only by the service user).</summary>
    public string? KeysFile { get; init; }

    /// <summary>
    /// How long the Api trusts an answer of the cluster's key table (found or not found): the bound
    /// on how late a revocation, or a key created after it was first tried, takes effect.
    /// </summary>
    public TimeSpan KeyCacheDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Addresses (e.g. <c>10.0.0.7</c>) or ranges (<c>10.0.0.0/24</c>) that may scrape /metrics without a key.</summary>
    public List<string> MetricsAddresses { get; init; } = [];

    /// <summary>Wrong keys one client address may send per <see cref="FailedKeyWindow"/> before it gets 429 (guessing keys is not free).</summary>
    public int FailedKeyLimit { get; init; } = 20;

    public TimeSpan FailedKeyWindow { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>One configured key. Give <see cref="Key"/> or, better, its <see cref="Hash"/> (SHA-256 hex of the key).</summary>
public sealed record ConfiguredApiKey
{
    /// <summary>The key's public name in logs (never the key).</summary>
    public string Id { get; init; } = "";

    public string Tenant { get; init; } = Qwen.Grains.Interfaces.ConversationKey.DefaultTenant;

    public bool Admin { get; init; }

    public string? Key { get; init; }

    public string? Hash { get; init; }
}
