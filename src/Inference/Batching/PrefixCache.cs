using System.Collections.Concurrent;
using Qwen.Inference.Engine;
using Qwen.Inference.Native;

namespace Qwen.Inference.Batching;

/// <summary>
/// Prompt KV kept for reuse, addressed by content: a trie of blocks of
/// <see cref="BlockTokens"/> token ids, each node holding the keys and values of its block's
/// positions given every token before it. A prompt that starts with cached blocks copies their
/// KV into its slot and prefills only the rest. Pinned prefixes (fixed system prompts) are
/// never evicted; other blocks leave least recently used first when the budget is exceeded.
/// A missing block is only a miss, so eviction can never make an answer wrong.
/// </summary>
/// <remarks>
/// Only prompt positions are stored unless <see cref="BatchingOptions.ReuseReplyKv"/> asks for
/// replies too: a one-token step takes another GEMM kernel in ONNX Runtime than a prompt chunk
/// does, so decode KV differs from prefill KV in the last bits, and reusing it can make a
/// cached turn differ from an uncached one. Used on the engine thread only, except <see cref="Pin"/> and the counters.
/// </remarks>
internal sealed class PrefixCache : IDisposable
{
    public const int BlockTokens = 16;

    private readonly Node _root = new(null, null);
    private readonly LinkedList<Node> _recency = []; // most recent first; pinned blocks are not in it
    private readonly ConcurrentQueue<int[]> _newPins = new();
    private readonly List<int[]> _pins = [];
    private readonly int _budgetTokens;
    private long _hits, _misses, _hitTokens;
    private int _cachedBlocks;

    public PrefixCache(int budgetTokens) => _budgetTokens = budgetTokens;

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public long HitTokens => Interlocked.Read(ref _hitTokens);
    public int CachedTokens => Volatile.Read(ref _cachedBlocks) * BlockTokens;

    /// <summary>Keeps the KV of <paramref name="tokens"/>' whole blocks once a prompt starting with them has been prefilled.</summary>
    public void Pin(IReadOnlyList<int> tokens) => _newPins.Enqueue([.. tokens]);

    /// <summary>
    /// Copies the longest cached prefix of <paramref name="prompt"/>, at most
    /// <paramref name="maxTokens"/> positions, into <paramref name="slot"/> (from column 0).
    /// </summary>
    /// <returns>The positions copied (0 on a miss).</returns>
    public int CopyLongestPrefix(IReadOnlyList<int> prompt, int maxTokens, SlotKvCache kv, int slot)
    {
        var path = new List<Node>();
        var node = _root;
        for (int start = 0; start < maxTokens && start + BlockTokens <= prompt.Count; start += BlockTokens)
        {
            if (!node.Children.TryGetValue(new TokenBlock(prompt, start), out var child)) break;
            path.Add(child);
            node = child;
        }
        int copied = Math.Min(path.Count * BlockTokens, maxTokens);
        if (copied <= 0)
        {
            Interlocked.Increment(ref _misses);
            return 0;
        }
        for (int b = 0; b * BlockTokens < copied; b++) path[b].CopyTo(kv, slot, b * BlockTokens, Math.Min(BlockTokens, copied - b * BlockTokens));
        kv.SetLength(slot, copied);
        Touch(path);
        Interlocked.Increment(ref _hits);
        Interlocked.Add(ref _hitTokens, copied);
        return copied;
    }

    /// <summary>Stores every whole block of <paramref name="prompt"/> not cached yet from <paramref name="slot"/>, which holds its prefilled KV.</summary>
    public void Insert(IReadOnlyList<int> prompt, SlotKvCache kv, int slot)
    {
        while (_newPins.TryDequeue(out var pin)) _pins.Add(pin);
        var path = new List<Node>();
        var node = _root;
        for (int start = 0; start + BlockTokens <= prompt.Count; start += BlockTokens)
        {
            var key = new TokenBlock(prompt, start);
            if (!node.Children.TryGetValue(key, out var child))
            {
                child = new Node(node, key.Own()) { Pinned = IsPinned(prompt, start + BlockTokens) };
                child.CopyFrom(kv, slot, start);
                node.Children.Add(child.Key!.Value, child);
                Interlocked.Increment(ref _cachedBlocks);
            }
            path.Add(child);
            node = child;
        }
        Touch(path);
        while (_cachedBlocks * BlockTokens > _budgetTokens && _recency.Last is { } oldest) Evict(oldest.Value);
    }

    private bool IsPinned(IReadOnlyList<int> prompt, int length) =>
        _pins.Any(pin => pin.Length >= length && Enumerable.Range(0, length).All(i => pin[i] == prompt[i]));

    /// <summary>Most recent first, a block's ancestors more recent than the block, so the least recent is a leaf.</summary>
    private void Touch(List<Node> path)
    {
        for (int i = path.Count - 1; i >= 0; i--)
        {
            var node = path[i];
            if (node.Pinned) continue;
            if (node.Recency is { } entry) _recency.Remove(entry);
            node.Recency = _recency.AddFirst(node);
        }
    }

    private void Evict(Node node)
    {
        foreach (var child in node.Children.Values.ToArray()) Evict(child);
        if (node.Recency is { } entry) _recency.Remove(entry);
        node.Recency = null;
        node.Parent!.Children.Remove(node.Key!.Value);
        node.Free();
        Interlocked.Decrement(ref _cachedBlocks);
    }

    /// <summary>Drops every block, pinned ones too, and gives their memory back.</summary>
    public void Dispose()
    {
        foreach (var child in _root.Children.Values.ToArray()) Evict(child);
    }

    private sealed class Node(Node? parent, TokenBlock? key)
    {
        // [layer][key | value][kv_head][position][head_dim] in the slots' element type, outside
        // the GC heap so an evicted block's 3 MiB (0.5B model, float32 KV; half that with
        // float16) go back at once instead of piling up until a full GC.
        private NativeBuffer? _data;
        private int _heads, _rowBytes;

        public Node? Parent { get; } = parent;
        public TokenBlock? Key { get; } = key;
        public Dictionary<TokenBlock, Node> Children { get; } = [];
        public LinkedListNode<Node>? Recency { get; set; }
        public bool Pinned { get; init; }

        public void CopyFrom(SlotKvCache kv, int slot, int start)
        {
            _heads = kv.KvHeads;
            _rowBytes = kv.RowBytes;
            _data = new NativeBuffer((long)kv.Layers * 2 * _heads * BlockTokens * _rowBytes);
            for (int l = 0; l < kv.Layers; l++)
            {
                for (int h = 0; h < _heads; h++)
                {
                    kv.Positions(l, true, slot, h, start, BlockTokens).CopyTo(Part(l, true, h, BlockTokens));
                    kv.Positions(l, false, slot, h, start, BlockTokens).CopyTo(Part(l, false, h, BlockTokens));
                }
            }
        }

        public void CopyTo(SlotKvCache kv, int slot, int start, int count)
        {
            for (int l = 0; l < kv.Layers; l++)
            {
                for (int h = 0; h < _heads; h++)
                {
                    Part(l, true, h, count).CopyTo(kv.Positions(l, true, slot, h, start, count));
                    Part(l, false, h, count).CopyTo(kv.Positions(l, false, slot, h, start, count));
                }
            }
        }

        public void Free() => _data?.Dispose();

        private Span<byte> Part(int layer, bool key, int head, int count) =>
            _data!.Slice<byte>((((long)(layer * 2 + (key ? 0 : 1)) * _heads + head) * BlockTokens) * _rowBytes, count * _rowBytes);
    }

    /// <summary>The token ids of one block, compared by value.</summary>
    private readonly struct TokenBlock : IEquatable<TokenBlock>
    {
        private readonly IReadOnlyList<int> _tokens;
        private readonly int _start;

        public TokenBlock(IReadOnlyList<int> tokens, int start)
        {
            _tokens = tokens;
            _start = start;
        }

        /// <summary>A copy that does not keep the caller's prompt alive.</summary>
        public TokenBlock Own()
        {
            var copy = new int[BlockTokens];
            for (int i = 0; i < BlockTokens; i++) copy[i] = _tokens[_start + i];
            return new TokenBlock(copy, 0);
        }

        public bool Equals(TokenBlock other)
        {
            for (int i = 0; i < BlockTokens; i++)
            {
                if (_tokens[_start + i] != other._tokens[other._start + i]) return false;
            }
            return true;
        }

        public override bool Equals(object? obj) => obj is TokenBlock other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            for (int i = 0; i < BlockTokens; i++) hash.Add(_tokens[_start + i]);
            return hash.ToHashCode();
        }
    }
}
