namespace Qwen.Grains.Interfaces;

/// <summary>
/// The cluster's API keys, as the operator manages them (<c>qwen keys</c>) in the cluster database.
/// The Api asks it by the key's hash (see <see cref="ApiKeyHash"/>), never by the key: the key
/// itself travels no further than the Api that received it. Revoked keys are not found.
/// </summary>
[Alias("qwen.IApiKeyRegistry")]
public interface IApiKeyRegistry : IGrainWithIntegerKey
{
    /// <summary>The active key whose SHA-256 hash (lowercase hex) is <paramref name="keyHash"/>, or null.</summary>
    [Alias("Find")]
    Task<ApiKeyRecord?> FindAsync(string keyHash, CancellationToken cancellationToken);
}

/// <param name="KeyId">The key's public id (in logs and <c>qwen keys list</c>; never the key).</param>
/// <param name="Tenant">The tenant whose conversations the key reaches.</param>
/// <param name="Admin">Whether the key may use the operations endpoints.</param>
[GenerateSerializer, Immutable, Alias("qwen.ApiKeyRecord")]
public sealed record ApiKeyRecord(string KeyId, string Tenant, bool Admin);

/// <summary>How a key is stored and looked up: the SHA-256 of its UTF-8 text, lowercase hex.</summary>
/// <remarks>
/// A plain hash is enough: keys are 256-bit random strings, so there is no dictionary to try
/// (passwords would need a slow hash; these do not).
/// </remarks>
public static class ApiKeyHash
{
    public static string Of(string key) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));

    public static bool IsHash(string? text) =>
        text is { Length: 64 } && text.AsSpan().IndexOfAnyExcept("0123456789abcdef") < 0;
}
