using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Qwen.Inference.Native;

namespace Qwen.Inference.Engine;

/// <summary>
/// The KV of a shared-buffer model: per layer one key and one value buffer
/// [slots, kv_heads, capacity, head_dim] of the model's KV element type (float32 or float16).
/// Each slot holds one sequence stored from
/// column 0; its length is the count of cached positions. A step runs on a run of consecutive
/// slots, whose memory ORT reads and writes in place. Never shared between threads.
/// </summary>
/// <remarks>
/// The buffers live outside the GC heap (<see cref="NativeBuffer"/>): a dropped buffer gives
/// its memory back at once, and pages no sequence reached are never resident. Growing copies
/// every cached position, so slots and capacity grow to the next power of two (a batch filling
/// up one request at a time reallocates a handful of times, not once per request).
/// </remarks>
public sealed class SlotKvCache : IDisposable
{
    private const int MinCapacity = 64;

    /// <summary>Positions a slot must give up before their pages are returned (a few positions are not worth the system calls).</summary>
    private const int DiscardMinPositions = 32;

    private NativeBuffer[] _keys = [];
    private NativeBuffer[] _values = [];
    private int[] _lengths = [];
    private int[] _touched = []; // per slot, positions that may hold resident pages (written since the last discard)

    public SlotKvCache(int layers, int kvHeads, int headDim, TensorElementType elementType = TensorElementType.Float)
    {
        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        ElementType = elementType;
        ElementSize = ElementSizeOf(elementType);
    }

    /// <summary>Bytes per KV element of <paramref name="elementType"/>: 4 for float32, 2 for float16, 1 for int8.</summary>
    internal static int ElementSizeOf(TensorElementType elementType) => elementType switch
    {
        TensorElementType.Float => sizeof(float),
        TensorElementType.Float16 => 2,
        TensorElementType.Int8 => 1,
        _ => throw new ArgumentException($"KV elements must be float32, float16 or int8, not {elementType}", nameof(elementType)),
    };

    public int Layers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }

    /// <summary>The KV element type, as the model's past/present tensors declare it.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>Bytes per KV element: 4 for float32, 2 for float16.</summary>
    public int ElementSize { get; }

    /// <summary>Slots allocated.</summary>
    public int Slots { get; private set; }

    /// <summary>Positions each slot can hold.</summary>
    public int Capacity { get; private set; }

    /// <summary>Times the buffers were reallocated (grown or shrunk), for tests and diagnostics.</summary>
    public int Reallocations { get; private set; }

    /// <summary>Bytes of the key and value buffers (address space; only touched pages are resident).</summary>
    public long AllocatedBytes => 2L * Layers * Slots * KvHeads * Capacity * HeadDim * ElementSize;

    private long SlotElements => (long)KvHeads * Capacity * HeadDim;

    public int LengthOf(int slot) => _lengths[slot];

    /// <summary>
    /// Whether a slot that gives up positions returns their pages to the system at once. Lower
    /// resident memory, but the next sequence in the slot faults fresh zeroed pages in, which
    /// costs serving throughput (see docs/batching.md); off unless asked.
    /// </summary>
    public bool ReturnFreedPages { get; set; }

    /// <summary>
    /// Records that <paramref name="slot"/> now caches <paramref name="length"/> positions (after a step
    /// wrote them). With <see cref="ReturnFreedPages"/>, a slot that gives up positions gives their
    /// memory back, so resident KV follows the positions in use rather than the most a slot ever held.
    /// </summary>
    public void SetLength(int slot, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Capacity);
        _lengths[slot] = length;
        if (length > _touched[slot]) _touched[slot] = length;
        else if (ReturnFreedPages && (_touched[slot] - length >= DiscardMinPositions || length == 0 && _touched[slot] > 0)) Discard(slot, length);
    }

    /// <summary>Returns the pages of <paramref name="slot"/>'s positions from <paramref name="from"/> on, in every layer and head.</summary>
    private void Discard(int slot, int from)
    {
        int count = _touched[slot] - from;
        for (int l = 0; l < Layers; l++)
        {
            for (int h = 0; h < KvHeads; h++)
            {
                long start = (((long)slot * KvHeads + h) * Capacity + from) * RowBytes;
                _keys[l].Discard(start, (long)count * RowBytes);
                _values[l].Discard(start, (long)count * RowBytes);
            }
        }
        _touched[slot] = from;
    }

    /// <summary>
    /// Makes room for at least <paramref name="slots"/> slots of <paramref name="capacity"/> positions,
    /// keeping every slot's cached positions; a dimension that must grow grows to the next power of two.
    /// </summary>
    public void Reserve(int slots, int capacity)
    {
        if (slots <= Slots && capacity <= Capacity) return;
        Reallocate(slots <= Slots ? Slots : RoundUp(slots, 1), capacity <= Capacity ? Capacity : RoundUp(capacity, MinCapacity));
    }

    /// <summary>
    /// Gives memory back when the buffers are over four times what <paramref name="slots"/> slots
    /// of <paramref name="capacity"/> positions need (both rounded as <see cref="Reserve"/> rounds):
    /// reallocates to that size. The slots beyond must be empty and every kept slot must fit.
    /// </summary>
    public void ShrinkToFit(int slots, int capacity)
    {
        int fitSlots = RoundUp(Math.Max(slots, 1), 1), fitCapacity = RoundUp(capacity, MinCapacity);
        if ((long)Slots * Capacity > 16L * fitSlots * fitCapacity) Shrink(Math.Min(fitSlots, Slots), Math.Min(fitCapacity, Capacity));
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

    private static int RoundUp(int value, int minimum)
    {
        int rounded = minimum;
        while (rounded < value) rounded = checked(rounded * 2);
        return rounded;
    }

    private void Reallocate(int newSlots, int newCapacity)
    {
        int keptSlots = Math.Min(Slots, newSlots);
        long bytes = (long)newSlots * KvHeads * newCapacity * HeadDim * ElementSize;
        var keys = new NativeBuffer[Layers];
        var values = new NativeBuffer[Layers];
        try
        {
            // Positions past a slot's length are never read (each row attends over its own length), so nothing is cleared.
            Parallel.For(0, Layers, l =>
            {
                keys[l] = new NativeBuffer(bytes);
                values[l] = new NativeBuffer(bytes);
                for (int s = 0; s < keptSlots; s++)
                {
                    CopyPositions(_keys[l], s, Capacity, keys[l], s, newCapacity, _lengths[s]);
                    CopyPositions(_values[l], s, Capacity, values[l], s, newCapacity, _lengths[s]);
                }
            });
        }
        catch
        {
            foreach (var buffer in keys.Concat(values)) buffer?.Dispose();
            throw;
        }
        var lengths = new int[newSlots];
        _lengths.AsSpan(0, keptSlots).CopyTo(lengths);
        DisposeBuffers();
        _keys = keys;
        _values = values;
        _lengths = lengths;
        _touched = (int[])lengths.Clone();
        Slots = newSlots;
        Capacity = newCapacity;
        Reallocations++;
    }

    /// <summary>Drops the buffers (the cache holds nothing any more); the memory goes back to the system.</summary>
    public void Release()
    {
        DisposeBuffers();
        _keys = [];
        _values = [];
        _lengths = [];
        _touched = [];
        Slots = 0;
        Capacity = 0;
    }

    public void Dispose() => Release();

    private void DisposeBuffers()
    {
        foreach (var buffer in _keys) buffer.Dispose();
        foreach (var buffer in _values) buffer.Dispose();
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
        SetLength(to, length);
        SetLength(from, 0);
    }

    /// <summary>Exchanges the sequences of two slots.</summary>
    public void Swap(int a, int b)
    {
        if (a == b) return;
        int lengthA = _lengths[a], lengthB = _lengths[b];
        Parallel.For(0, Layers, l =>
        {
            var scratch = new byte[KvHeads * lengthA * RowBytes];
            foreach (var buffer in new[] { _keys[l], _values[l] })
            {
                for (int h = 0; h < KvHeads; h++) Head(buffer, a, Capacity, h, lengthA).CopyTo(scratch.AsSpan(h * lengthA * RowBytes));
                CopyPositions(buffer, b, Capacity, buffer, a, Capacity, lengthB);
                for (int h = 0; h < KvHeads; h++) scratch.AsSpan(h * lengthA * RowBytes, lengthA * RowBytes).CopyTo(Head(buffer, b, Capacity, h, lengthA));
            }
        });
        SetLength(a, lengthB);
        SetLength(b, lengthA);
    }

    /// <summary>
    /// Keys (or values) of one layer, one head, of a slot's positions [start, start + count), as
    /// raw bytes (<see cref="ElementSize"/> per element): copies move them without converting.
    /// </summary>
    public Span<byte> Positions(int layer, bool key, int slot, int head, int start, int count) =>
        (key ? _keys : _values)[layer].Slice<byte>(((long)(slot * KvHeads + head) * Capacity + start) * RowBytes, count * RowBytes);

    /// <summary>Bytes of one position of one head (head_dim elements).</summary>
    public int RowBytes => HeadDim * ElementSize;

    /// <summary>
    /// Tensors [count, kv_heads, capacity, head_dim] over slots [first, first + count) of each
    /// layer, sharing this cache's memory: a step binds each as both past input and present output.
    /// </summary>
    internal (OrtValue[] Keys, OrtValue[] Values) Views(int first, int count)
    {
        if (first < 0 || count < 1 || first + count > Slots)
            throw new ArgumentOutOfRangeException(nameof(count), $"slots [{first}, {first + count}) are outside the {Slots} allocated");
        long[] shape = [count, KvHeads, Capacity, HeadDim];
        long offset = first * SlotElements;
        var keys = new OrtValue[Layers];
        var values = new OrtValue[Layers];
        try
        {
            for (int l = 0; l < Layers; l++)
            {
                keys[l] = Tensor(_keys[l], offset, shape);
                values[l] = Tensor(_values[l], offset, shape);
            }
        }
        catch
        {
            foreach (var v in keys.Concat(values)) v?.Dispose();
            throw;
        }
        return (keys, values);
    }

    private OrtValue Tensor(NativeBuffer buffer, long offset, long[] shape) => ElementType switch
    {
        TensorElementType.Float16 => buffer.Tensor<Float16>(offset, shape),
        TensorElementType.Int8 => buffer.Tensor<sbyte>(offset, shape),
        _ => buffer.Tensor<float>(offset, shape),
    };

    private Span<byte> Head(NativeBuffer buffer, int slot, int capacity, int head, int length) =>
        buffer.Slice<byte>(((long)slot * KvHeads + head) * capacity * RowBytes, length * RowBytes);

    private void CopyPositions(NativeBuffer source, int sourceSlot, int sourceCapacity, NativeBuffer target, int targetSlot, int targetCapacity, int length)
    {
        if (length == 0) return;
        for (int h = 0; h < KvHeads; h++) Head(source, sourceSlot, sourceCapacity, h, length).CopyTo(Head(target, targetSlot, targetCapacity, h, length));
    }
}
