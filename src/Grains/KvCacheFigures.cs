namespace Qwen.Grains;

/// <summary>
/// The worker's KV cache as metrics show it: positions holding tokens and allocated after the
/// latest step, positions the running requests reserve against the budget, and the prefix
/// cache's counts (all 0 without batching; prefix figures 0 when the cache is off), and what one
/// cached position costs in bytes (keys and values of every layer, in the model's KV element type).
/// </summary>
public readonly record struct KvCacheFigures(int InUse, int Capacity, int Reserved, int Budget,
    long PrefixHits, long PrefixMisses, long PrefixHitTokens, int PrefixCachedTokens, long BytesPerPosition = 0);
