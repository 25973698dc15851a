using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Security;

/// <summary>
/// Finds the key a request presents: first among the configured keys, then (clustered) in the
/// cluster's key table through the silos' <see cref="IApiKeyRegistry"/>. The table's answers, found
/// or not, are cached for <see cref="AuthOptions.KeyCacheDuration"/>, so a key costs a grain call
/// at most that often and a revocation takes effect within it. Only the key's hash leaves this class.
/// </summary>
public sealed class ApiKeyResolver : IDisposable
{
    // Bounded, so that clients inventing keys cannot grow it without limit (their failures are rate-limited too).
    private const int CacheEntries = 10_000;

    private readonly ConfiguredApiKeys _configured;
    private readonly IGrainFactory? _registry;
    private readonly TimeSpan _cacheDuration;
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = CacheEntries });

    /// <param name="registry">The cluster's grains, or null when there is no key table to ask (embedded).</param>
    public ApiKeyResolver(ConfiguredApiKeys configured, IGrainFactory? registry, IOptions<AuthOptions> options)
    {
        _configured = configured;
        _registry = registry;
        _cacheDuration = options.Value.KeyCacheDuration;
    }

    /// <summary>The active key, or null when it is unknown or revoked.</summary>
    /// <exception cref="GrainCallException">The key table cannot be asked now (Unavailable).</exception>
    public async Task<ApiKeyRecord?> FindAsync(string key, CancellationToken cancellationToken)
    {
        string hash = ApiKeyHash.Of(key);
        if (_configured.Find(hash) is { } configured) return configured;
        if (_registry is null) return null;
        if (_cache.TryGetValue(hash, out ApiKeyRecord? cached)) return cached;
        var found = await _registry.GetGrain<IApiKeyRegistry>(0).FindAsync(hash, cancellationToken);
        if (_cacheDuration > TimeSpan.Zero)
            _cache.Set(hash, found, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = _cacheDuration, Size = 1 });
        return found;
    }

    public void Dispose() => _cache.Dispose();
}
