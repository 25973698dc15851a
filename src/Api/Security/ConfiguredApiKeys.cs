using System.Text.Json;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Security;

/// <summary>The keys of the Api's own configuration (Auth:Keys and Auth:KeysFile), by hash, checked at start.</summary>
public sealed class ConfiguredApiKeys
{
    private readonly Dictionary<string, ApiKeyRecord> _byHash;

    private ConfiguredApiKeys(Dictionary<string, ApiKeyRecord> byHash) => _byHash = byHash;

    public int Count => _byHash.Count;

    public ApiKeyRecord? Find(string keyHash) => _byHash.GetValueOrDefault(keyHash);

    /// <exception cref="InvalidOperationException">A key is malformed, or the keys file cannot be read: the Api does not start.</exception>
    public static ConfiguredApiKeys Load(AuthOptions options)
    {
        var entries = new List<(ConfiguredApiKey Key, string Where)>();
        entries.AddRange(options.Keys.Select((k, i) => (k, $"{AuthOptions.Section}:Keys:{i}")));
        if (!string.IsNullOrWhiteSpace(options.KeysFile))
        {
            List<ConfiguredApiKey>? fromFile;
            try
            {
                fromFile = JsonSerializer.Deserialize<List<ConfiguredApiKey>>(File.ReadAllText(options.KeysFile),
                    new JsonSerializerOptions { PropertyNameCaseInsensitive = true, AllowTrailingCommas = true });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
            {
                throw new InvalidOperationException(
                    $"{AuthOptions.Section}:KeysFile '{options.KeysFile}' cannot be read as a JSON array of keys: {e.Message}", e);
            }
            entries.AddRange((fromFile ?? []).Select((k, i) => (k, $"{options.KeysFile}[{i}]")));
        }

        var byHash = new Dictionary<string, ApiKeyRecord>(StringComparer.Ordinal);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, where) in entries)
        {
            if (string.IsNullOrWhiteSpace(key.Id)) throw Invalid(where, "has no Id");
            if (!ids.Add(key.Id)) throw Invalid(where, $"repeats the id '{key.Id}'");
            if (TenantIdFormat.Problem(key.Tenant) is { } problem) throw Invalid(where, $"has a bad tenant: {problem}");
            string hash = (key.Key, key.Hash) switch
            {
                ({ Length: > 0 } plain, null or "") => ApiKeyHash.Of(plain),
                (null or "", { } given) when ApiKeyHash.IsHash(given) => given,
                (null or "", { Length: > 0 }) => throw Invalid(where, "has a Hash that is not 64 lowercase hex digits (SHA-256 of the key)"),
                _ => throw Invalid(where, "needs exactly one of Key and Hash"),
            };
            if (!byHash.TryAdd(hash, new ApiKeyRecord(key.Id, key.Tenant, key.Admin))) throw Invalid(where, "repeats a key given before");
        }
        return new ConfiguredApiKeys(byHash);
    }

    private static InvalidOperationException Invalid(string where, string problem) => new($"the API key at {where} {problem}");
}
