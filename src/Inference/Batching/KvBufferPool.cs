using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Batching;

/// <summary>
/// Managed buffers for re-laid-out KV tensors, kept between re-layouts. A re-layout's tensors
/// are the batch's past for one step only (the step's outputs replace them), so one set of
/// buffers serves every re-layout; fresh gigabyte-sized arrays each time would cost page faults
/// and garbage collections instead. Holds at most <c>capacity</c> buffers per element type.
/// </summary>
internal sealed class KvBufferPool(int capacity)
{
    private readonly Shelf<float> _floats = new(capacity);
    private readonly Shelf<Float16> _halves = new(capacity);

    /// <summary>A buffer of at least <paramref name="length"/> elements, contents undefined.</summary>
    public T[] Rent<T>(int length) where T : unmanaged => ShelfOf<T>().Rent(length);

    public void Return<T>(T[] buffer) where T : unmanaged => ShelfOf<T>().Return(buffer);

    private Shelf<T> ShelfOf<T>() where T : unmanaged =>
        (Shelf<T>)(object)(typeof(T) == typeof(float) ? _floats
            : typeof(T) == typeof(Float16) ? _halves
            : throw new NotSupportedException($"KV tensors of {typeof(T).Name} are not supported"));

    private sealed class Shelf<T>(int capacity) where T : unmanaged
    {
        private readonly Lock _lock = new();
        private readonly List<T[]> _buffers = [];

        public T[] Rent(int length)
        {
            lock (_lock)
            {
                // The smallest buffer that fits, so large ones stay for large requests.
                int best = -1;
                for (int i = 0; i < _buffers.Count; i++)
                {
                    if (_buffers[i].Length >= length && (best < 0 || _buffers[i].Length < _buffers[best].Length)) best = i;
                }
                if (best >= 0)
                {
                    var buffer = _buffers[best];
                    _buffers.RemoveAt(best);
                    return buffer;
                }
            }
            // Headroom, so a batch that grows by a few positions reuses the buffer next time.
            return GC.AllocateUninitializedArray<T>(length + length / 4);
        }

        public void Return(T[] buffer)
        {
            lock (_lock)
            {
                _buffers.Add(buffer);
                if (_buffers.Count > capacity) _buffers.Remove(_buffers.MinBy(b => b.Length)!);
            }
        }
    }
}
