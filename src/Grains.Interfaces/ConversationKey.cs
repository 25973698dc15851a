namespace Qwen.Grains.Interfaces;

/// <summary>
/// The key of a conversation grain and of its stored rows: <c>tenant/userId</c>, so two tenants'
/// users of the same id are two conversations. A key without a tenant (no <c>/</c>) names the
/// user's conversation in <see cref="DefaultTenant"/>, where histories from before tenants live.
/// </summary>
public static class ConversationKey
{
    /// <summary>The tenant of keyless use and of histories stored before tenants existed.</summary>
    public const string DefaultTenant = "default";

    private const char Separator = '/';

    public static string For(string tenant, string userId) => tenant + Separator + userId;

    /// <summary>The tenant and user id a key names (neither is validated here: see <see cref="Problem"/>).</summary>
    public static (string Tenant, string UserId) Parse(string key)
    {
        int separator = key.IndexOf(Separator, StringComparison.Ordinal);
        return separator < 0 ? (DefaultTenant, key) : (key[..separator], key[(separator + 1)..]);
    }

    /// <summary>Why <paramref name="key"/> does not name a conversation, or null when it does.</summary>
    public static string? Problem(string key)
    {
        var (tenant, userId) = Parse(key);
        return TenantIdFormat.Problem(tenant) ?? UserIdFormat.Problem(userId);
    }
}
