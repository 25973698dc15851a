using System.Collections.Concurrent;
using System.Text;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// Byte-level BPE over one pre-tokenized piece: the piece's UTF-8 bytes start as single-byte
/// tokens and the adjacent pair with the lowest merge rank is merged (leftmost first) until no
/// pair has a merge. Results are cached per piece because real text repeats its words.
/// Thread-safe.
/// </summary>
internal sealed class BpeModel
{
    /// <summary>Beyond this many cached pieces the cache starts over, so memory stays bounded.</summary>
    public const int CacheCapacity = 200_000;

    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly int[] _idOfByte;
    private readonly Dictionary<string, int>? _wholeWords;
    private readonly ConcurrentDictionary<string, int[]> _cache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;

    [ThreadStatic] private static PriorityQueue<(int Position, int Left, int Right), long>? t_queue;

    /// <param name="idOfByte">The token id of each single byte.</param>
    /// <param name="merges">(left id, right id) → (rank, merged id).</param>
    /// <param name="wholeWords">With ignore_merges, pieces found here are taken whole; null otherwise.</param>
    public BpeModel(int[] idOfByte, Dictionary<long, (int Rank, int Merged)> merges, Dictionary<string, int>? wholeWords)
    {
        _idOfByte = idOfByte;
        _merges = merges;
        _wholeWords = wholeWords;
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Appends the token ids of one piece of (normalized) text.</summary>
    public void Encode(ReadOnlySpan<char> piece, List<int> output)
    {
        if (_cacheLookup.TryGetValue(piece, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        int[] ids = EncodeUncached(piece);
        if (_cache.Count >= CacheCapacity) _cache.Clear();
        _cache.TryAdd(piece.ToString(), ids);
        output.AddRange(ids);
    }

    private int[] EncodeUncached(ReadOnlySpan<char> piece)
    {
        if (_wholeWords is not null && _wholeWords.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(ByteLevelText(piece), out int whole))
            return [whole];

        int byteCount = Encoding.UTF8.GetByteCount(piece);
        byte[] bytes = new byte[byteCount];
        Encoding.UTF8.GetBytes(piece, bytes);
        var ids = new int[byteCount];
        for (int i = 0; i < byteCount; i++) ids[i] = _idOfByte[bytes[i]];
        return byteCount < 2 ? ids : Merge(ids);
    }

    private static string ByteLevelText(ReadOnlySpan<char> piece)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(piece.ToArray());
        return string.Create(bytes.Length, bytes, (span, b) =>
        {
            for (int i = 0; i < b.Length; i++) span[i] = ByteLevelAlphabet.CharOfByte[b[i]];
        });
    }

    /// <summary>
    /// Merges on a linked list of symbols with a queue ordered by (rank, position), so the
    /// lowest-ranked pair goes first and ties go to the leftmost, as Hugging Face's BPE does.
    /// </summary>
    private int[] Merge(int[] ids)
    {
        int n = ids.Length;
        var next = new int[n];
        var previous = new int[n];
        for (int i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            previous[i] = i - 1;
        }
        var queue = t_queue ??= new PriorityQueue<(int, int, int), long>();
        queue.Clear();
        for (int i = 0; i + 1 < n; i++) Enqueue(queue, i, ids[i], ids[i + 1]);

        int alive = n;
        while (queue.TryDequeue(out var candidate, out _))
        {
            var (position, left, right) = candidate;
            int after = next[position];
            // Skip stale entries: a symbol that was merged away or changed since it was queued.
            if (ids[position] != left || after < 0 || ids[after] != right) continue;
            ids[position] = _merges[PairKey(left, right)].Merged;
            ids[after] = -1;
            next[position] = next[after];
            if (next[after] >= 0) previous[next[after]] = position;
            alive--;
            if (previous[position] >= 0) Enqueue(queue, previous[position], ids[previous[position]], ids[position]);
            if (next[position] >= 0) Enqueue(queue, position, ids[position], ids[next[position]]);
        }

        var result = new int[alive];
        for (int i = 0, k = 0; i >= 0; i = next[i]) result[k++] = ids[i];
        return result;
    }

    private void Enqueue(PriorityQueue<(int, int, int), long> queue, int position, int left, int right)
    {
        if (_merges.TryGetValue(PairKey(left, right), out var merge))
            queue.Enqueue((position, left, right), ((long)merge.Rank << 32) | (uint)position);
    }
}
