using Qwen.Grains.Interfaces;

namespace Qwen.Api.Security;

/// <summary>Who sent a request: the key's id (never the key), its tenant and whether it is an admin key.</summary>
public sealed record ApiCaller(string KeyId, string Tenant, bool Admin)
{
    /// <summary>The caller when no keys are checked (keyless embedded default, or Auth:Disabled): one tenant, all allowed.</summary>
    public static ApiCaller Keyless { get; } = new("-", ConversationKey.DefaultTenant, Admin: true);

    /// <summary>Authenticated by a key (as opposed to <see cref="Keyless"/>).</summary>
    public bool HasKey => !ReferenceEquals(this, Keyless);

    /// <summary>The caller of this request (set by the key check; keyless when none ran).</summary>
    public static ApiCaller Of(HttpContext context) => context.Features.Get<ApiCaller>() ?? Keyless;

    /// <summary>The key of this caller's conversation with <paramref name="userId"/>: within its tenant.</summary>
    public string ConversationOf(string userId) => ConversationKey.For(Tenant, userId);
}
