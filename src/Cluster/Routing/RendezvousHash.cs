using System.Buffers;
using System.Text;

namespace Qwen.Cluster.Routing;

/// <summary>
/// Rendezvous (highest-random-weight) hashing: every silo gets a pseudo-random weight per key and
/// the heaviest owns the key. Adding a silo moves only the keys it now wins; removing one moves
/// only its own keys. The weight is FNV-1a 64 over UTF-8 bytes with a murmur3 finalizer, fixed
/// forever: every process of every build must rank silos the same way.
/// </summary>
public static class RendezvousHash
{
    private const ulong FnvOffsetBasis = 14695981039346656037;
    private const ulong FnvPrime = 1099511628211;

    // 0xFF never occurs in UTF-8, so ("ab", "c") and ("a", "bc") hash differently.
    private const byte Separator = 0xFF;

    /// <summary>The silo that owns the key, or null when there are no silos.</summary>
    public static string? Owner(string key, IEnumerable<string> siloIds)
    {
        ArgumentNullException.ThrowIfNull(key);
        string? best = null;
        ulong bestWeight = 0;
        foreach (string siloId in siloIds)
        {
            ulong weight = Weight(key, siloId);
            if (best is null || Beats(weight, siloId, bestWeight, best))
            {
                best = siloId;
                bestWeight = weight;
            }
        }

        return best;
    }

    /// <summary>The distinct silos in preference order for the key: owner first, then whom to try next.</summary>
    public static IReadOnlyList<string> Rank(string key, IEnumerable<string> siloIds) => Rank(key, siloIds, id => id);

    /// <summary>The silos in preference order for the key (duplicate ids keep their first occurrence).</summary>
    public static IReadOnlyList<T> Rank<T>(string key, IEnumerable<T> silos, Func<T, string> siloId)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(silos);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var weighted = new List<(T Silo, string Id, ulong Weight)>();
        foreach (T silo in silos)
        {
            string id = siloId(silo);
            if (seen.Add(id))
            {
                weighted.Add((silo, id, Weight(key, id)));
            }
        }

        weighted.Sort((a, b) => Beats(a.Weight, a.Id, b.Weight, b.Id) ? -1 : Beats(b.Weight, b.Id, a.Weight, a.Id) ? 1 : 0);
        return [.. weighted.Select(w => w.Silo)];
    }

    /// <summary>The silo's weight for the key.</summary>
    public static ulong Weight(string key, string siloId)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(siloId);
        int length = Encoding.UTF8.GetMaxByteCount(siloId.Length + key.Length) + 1;
        byte[]? rented = length > 512 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> buffer = rented ?? stackalloc byte[length];
        try
        {
            int written = Encoding.UTF8.GetBytes(siloId, buffer);
            buffer[written++] = Separator;
            written += Encoding.UTF8.GetBytes(key, buffer[written..]);
            return Avalanche(Fnv1a(buffer[..written]));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // Equal weights (practically never) are broken by id so every process agrees.
    private static bool Beats(ulong weight, string id, ulong otherWeight, string otherId) =>
        weight != otherWeight ? weight > otherWeight : string.CompareOrdinal(id, otherId) < 0;

    private static ulong Fnv1a(ReadOnlySpan<byte> bytes)
    {
        ulong hash = FnvOffsetBasis;
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return hash;
    }

    // FNV's high bits mix poorly for keys that differ only at the end; murmur3's fmix64 spreads them.
    private static ulong Avalanche(ulong hash)
    {
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccd;
        hash ^= hash >> 33;
        hash *= 0xc4ceb53a7aeb47fd;
        hash ^= hash >> 33;
        return hash;
    }
}
