using Orleans.Concurrency;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;

namespace Qwen.Grains.Security;

/// <summary>
/// The key registry's grain face: a stateless worker, so every silo (cold ones too: no model is
/// needed) answers from the key table itself and no silo is a bottleneck. The Api caches answers.
/// </summary>
[StatelessWorker, Reentrant]
public sealed class ApiKeyRegistryGrain(IApiKeyStore store) : Grain, IApiKeyRegistry
{
    public async Task<ApiKeyRecord?> FindAsync(string keyHash, CancellationToken cancellationToken)
    {
        if (!ApiKeyHash.IsHash(keyHash))
            throw new GrainCallException(GrainErrorKind.InvalidRequest, "a key is looked up by its SHA-256 hash, 64 lowercase hex digits");
        try
        {
            return await store.FindAsync(keyHash, cancellationToken);
        }
        catch (StorageUnavailableException e)
        {
            // The message only: the inner exception's type has no Orleans codec.
            throw new GrainCallException(GrainErrorKind.Unavailable, $"the API key table is unavailable: {e.Message}");
        }
    }
}
