using Qwen.Inference.Runtime;

namespace Qwen.Inference.Engine;

/// <summary>
/// The KV of a shared-buffer model: per layer one key and one value buffer
/// [slots, kv_heads, capacity, head_dim] (float32). Each slot holds one sequence stored from
/// column 0; its length is the count of cached positions. A step runs on a run of consecutive
/// slots, whose memory ORT reads and writes in place. Grown by reallocation (used positions
/// are copied); never shared between threads.
/// </summary>
public sealed class SlotKvCache
{
    // Old buffers of at least this size are collected at once when dropped (see CollectDropped).
    private const long CollectThresholdBytes = 64L << 20;
    private static long s_lastCollectMs = -1000;

    private float[][] _keys = [];
    private float[][] _values = [];
    private int[] _lengths = [];

    public SlotKvCache(int layers, int kvHeads, int headDim)
    {
        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
    }

    public int Layers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }

    /// <summary>Slots allocated.</summary>
    public int Slots { get; private set; }

    /// <summary>Positions each slot can hold.</summary>
    public int Capacity { get; private set; }

    /// <summary>Bytes of the key and value buffers.</summary>
    public long AllocatedBytes => 2L * Layers * Slots * KvHeads * Capacity * HeadDim * sizeof(float);

    private int SlotFloats => KvHeads * Capacity * HeadDim;

    public int LengthOf(int slot) => _lengths[slot];

    /// <summary>Records that <paramref name="slot"/> now caches <paramref name="length"/> positions (after a step wrote them).</summary>
    public void SetLength(int slot, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Capacity);
        _lengths[slot] = length;
    }

    /// <summary>Makes room for at least <paramref name="slots"/> slots of <paramref name="capacity"/> positions, keeping every slot's cached positions.</summary>
    public void Reserve(int slots, int capacity)
    {
        if (slots <= Slots && capacity <= Capacity) return;
        Reallocate(Math.Max(slots, Slots), Math.Max(capacity, Capacity));
    }

    /// <summary>
    /// Reallocates to exactly <paramref name="slots"/> slots of <paramref name="capacity"/>
    /// positions (to give memory back): the slots beyond must be empty and every kept slot's
    /// length must fit.
    /// </summary>
    public void Shrink(int slots, int capacity)
    {
        for (int s = 0; s < Slots; s++)
        {
            if (s >= slots ? _lengths[s] > 0 : _lengths[s] > capacity)
                throw new InvalidOperationException($"slot {s} holds {_lengths[s]} positions, which {slots} slots of {capacity} cannot keep");
        }
        if (slots == Slots && capacity == Capacity) return;
        Reallocate(slots, capacity);
    }

    private void Reallocate(int newSlots, int newCapacity)
    {
        int keptSlots = Math.Min(Slots, newSlots);
        long floats = (long)newSlots * KvHeads * newCapacity * HeadDim;
        var keys = new float[Layers][];
        var values = new float[Layers][];
        // Positions past a slot's length are never read (each row attends over its own length), so the memory need not be cleared.
        Parallel.For(0, Layers, l =>
        {
            keys[l] = GC.AllocateUninitializedArray<float>(checked((int)floats));
            values[l] = GC.AllocateUninitializedArray<float>(checked((int)floats));
            for (int s = 0; s < keptSlots; s++)
            {
                CopyPositions(_keys[l], s, Capacity, keys[l], s, newCapacity, _lengths[s]);
                CopyPositions(_values[l], s, Capacity, values[l], s, newCapacity, _lengths[s]);
            }
        });
        var lengths = new int[newSlots];
        _lengths.AsSpan(0, keptSlots).CopyTo(lengths);
        long dropped = AllocatedBytes;
        _keys = keys;
        _values = values;
        _lengths = lengths;
        Slots = newSlots;
        Capacity = newCapacity;
        CollectDropped(dropped);
    }

    /// <summary>Drops the buffers (the cache holds nothing any more).</summary>
    public void Release()
    {
        long dropped = AllocatedBytes;
        _keys = [];
        _values = [];
        _lengths = [];
        Slots = 0;
        Capacity = 0;
        CollectDropped(dropped);
    }

    /// <summary>
    /// The buffers are large arrays on the large object heap, freed only by a full collection; under
    /// steady load the GC let re-layout garbage pile up (RSS grew past 9 GB in a soak where the live
    /// KV stayed under 3 GB). A non-compacting full collection of these reference-free arrays is
    /// cheap, so run one when a large buffer is dropped, at most once a second.
    /// </summary>
    private static void CollectDropped(long droppedBytes)
    {
        if (droppedBytes < CollectThresholdBytes) return;
        long now = Environment.TickCount64, last = Interlocked.Read(ref s_lastCollectMs);
        if (now - last < 1000 || Interlocked.CompareExchange(ref s_lastCollectMs, now, last) != last) return;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
    }

    /// <summary>Moves slot <paramref name="from"/>'s sequence into slot <paramref name="to"/>; <paramref name="from"/> becomes empty.</summary>
    public void Move(int from, int to)
    {
        if (from == to) return;
        int length = _lengths[from];
        Parallel.For(0, Layers, l =>
        {
            CopyPositions(_keys[l], from, Capacity, _keys[l], to, Capacity, length);
            CopyPositions(_values[l], from, Capacity, _values[l], to, Capacity, length);
        });
        _lengths[to] = length;
        _lengths[from] = 0;
    }

    /// <summary>Exchanges the sequences of two slots.</summary>
    public void Swap(int a, int b)
    {
        if (a == b) return;
        int lengthA = _lengths[a], lengthB = _lengths[b];
        Parallel.For(0, Layers, l =>
        {
            var scratch = new float[SlotFloats];
            foreach (var buffer in new[] { _keys[l], _values[l] })
            {
                CopyPositions(buffer, a, Capacity, scratch, 0, Capacity, lengthA);
                CopyPositions(buffer, b, Capacity, buffer, a, Capacity, lengthB);
                CopyPositions(scratch, 0, Capacity, buffer, b, Capacity, lengthA);
            }
        });
        _lengths[a] = lengthB;
        _lengths[b] = lengthA;
    }

    /// <summary>Keys (or values) of one layer, one head, of a slot's positions [start, start + count).</summary>
    public Span<float> Positions(int layer, bool key, int slot, int head, int start, int count) =>
        (key ? _keys : _values)[layer].AsSpan(((slot * KvHeads + head) * Capacity + start) * HeadDim, count * HeadDim);

    /// <summary>
    /// Tensors [count, kv_heads, capacity, head_dim] over slots [first, first + count) of each
    /// layer, sharing this cache's memory: a step binds each as both past input and present output.
    /// </summary>
    internal (OrtValue[] Keys, OrtValue[] Values) Views(int first, int count)
    {
        if (first < 0 || count < 1 || first + count > Slots)
            throw new ArgumentOutOfRangeException(nameof(count), $"slots [{first}, {first + count}) are outside the {Slots} allocated");
        long[] shape = [count, KvHeads, Capacity, HeadDim];
        int offset = first * SlotFloats, length = count * SlotFloats;
        var keys = new OrtValue[Layers];
        var values = new OrtValue[Layers];
        try
        {
            for (int l = 0; l < Layers; l++)
            {
                keys[l] = OrtValue.CreateTensor(_keys[l].AsMemory(offset, length), shape);
                values[l] = OrtValue.CreateTensor(_values[l].AsMemory(offset, length), shape);
            }
        }
        catch
        {
            foreach (var v in keys.Concat(values)) v?.Dispose();
            throw;
        }
        return (keys, values);
    }

    private void CopyPositions(float[] source, int sourceSlot, int sourceCapacity, float[] target, int targetSlot, int targetCapacity, int length)
    {
        if (length == 0) return;
        for (int h = 0; h < KvHeads; h++)
        {
            source.AsSpan(((sourceSlot * KvHeads + h) * sourceCapacity) * HeadDim, length * HeadDim)
                .CopyTo(target.AsSpan(((targetSlot * KvHeads + h) * targetCapacity) * HeadDim));
        }
    }
}
