using Qwen.Grains.Interfaces;

namespace Qwen.Grains.Security;

/// <summary>Where the silo finds the cluster's API keys (the PostgreSQL key table, or none without a database).</summary>
public interface IApiKeyStore
{
    /// <summary>The active (not revoked) key with this hash, or null.</summary>
    /// <exception cref="Persistence.StorageUnavailableException">The store cannot be reached.</exception>
    Task<ApiKeyRecord?> FindAsync(string keyHash, CancellationToken cancellationToken);
}

/// <summary>The key store of a silo without a database: it holds no keys, so only the Api's own configured keys are valid.</summary>
public sealed class NoApiKeyStore : IApiKeyStore
{
    public Task<ApiKeyRecord?> FindAsync(string keyHash, CancellationToken cancellationToken) => Task.FromResult<ApiKeyRecord?>(null);
}
