using System.Buffers;

namespace Qwen.Inference.Runtime;

/// <summary>
/// An ORT tensor: either one over managed memory (created here, sharing that memory without
/// copying and keeping it pinned until disposed) or one ORT allocated for a run's output.
/// </summary>
public sealed class OrtValue : IDisposable
{
    // ORT rejects a null data pointer even for tensors with no elements; this stands in for
    // empty managed memory (it lives on the pinned heap, so its address never changes).
    private static readonly byte[] EmptyData = GC.AllocateArray<byte>(16, pinned: true);

    private readonly ValueHandle handle;
    private TensorInfo? info;

    internal OrtValue(ValueHandle handle)
    {
        this.handle = handle;
    }

    private OrtValue(ValueHandle handle, TensorInfo info) : this(handle)
    {
        this.info = info;
    }

    /// <summary>
    /// Wraps <paramref name="data"/> as a tensor of <paramref name="shape"/> without copying; the
    /// memory stays pinned, and shared with ORT, until this value is disposed. Supported element
    /// types: float, Half, long, int, bool, byte, sbyte, double, short, ushort, uint, ulong.
    /// </summary>
    public static unsafe OrtValue CreateTensor<T>(Memory<T> data, ReadOnlySpan<long> shape) where T : unmanaged
    {
        TensorElementType type = TensorElementTypes.Of<T>();
        long count = CountElements(shape);
        if (count != data.Length)
            throw new ArgumentException(
                $"Shape [{string.Join(", ", shape.ToArray())}] holds {count} elements but the data has {data.Length}.", nameof(data));

        MemoryHandle pin = data.IsEmpty ? default : data.Pin();
        void* pointer = data.IsEmpty ? (void*)NativeUtf8.AddressOfPinned(EmptyData) : pin.Pointer;
        return Create(pointer, (nuint)((long)data.Length * sizeof(T)), type, shape, count, pin);
    }

    /// <summary>A float tensor over native memory that <paramref name="pin"/> keeps alive until the tensor is disposed.</summary>
    internal static unsafe OrtValue CreateTensor(float* data, long count, ReadOnlySpan<long> shape, MemoryHandle pin)
    {
        if (CountElements(shape) != count)
        {
            pin.Dispose();
            throw new ArgumentException($"Shape [{string.Join(", ", shape.ToArray())}] does not hold {count} elements.", nameof(shape));
        }
        return Create(data, (nuint)(count * sizeof(float)), TensorElementType.Float, shape, count, pin);
    }

    private static unsafe OrtValue Create(void* pointer, nuint bytes, TensorElementType type, ReadOnlySpan<long> shape, long count, MemoryHandle pin)
    {
        try
        {
            long scalarShape = 0; // stands in for the address of a rank-0 shape
            nint value;
            fixed (long* dims = shape)
            {
                value = OrtApi.CreateTensorWithDataAsOrtValue(OrtEnvironment.CpuMemoryInfo, pointer,
                    bytes, dims == null ? &scalarShape : dims, (nuint)shape.Length, (int)type);
            }
            return new OrtValue(new ValueHandle(value, pin), new TensorInfo(type, shape.ToArray(), count));
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <inheritdoc cref="CreateTensor{T}(Memory{T}, ReadOnlySpan{long})"/>
    public static OrtValue CreateTensor<T>(T[] data, ReadOnlySpan<long> shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        return CreateTensor(data.AsMemory(), shape);
    }

    public TensorElementType ElementType => Info.ElementType;

    /// <summary>The tensor's dimensions (a copy).</summary>
    public long[] Shape => (long[])Info.Shape.Clone();

    public long ElementCount => Info.ElementCount;

    /// <summary>
    /// The tensor's elements, read and written in place. Valid only until this value is disposed.
    /// Throws <see cref="InvalidOperationException"/> if <typeparamref name="T"/> does not match <see cref="ElementType"/>.
    /// </summary>
    public unsafe Span<T> GetTensorSpan<T>() where T : unmanaged
    {
        TensorInfo tensor = Info;
        if (TensorElementTypes.TryOf<T>() != tensor.ElementType)
            throw new InvalidOperationException(
                $"The tensor holds {tensor.ElementType} elements, which cannot be read as {typeof(T).Name}.");
        if (tensor.ElementCount == 0) return Span<T>.Empty;

        using OrtHandle.Lease lease = handle.Acquire();
        nint data = OrtApi.GetTensorMutableData(lease.Pointer);
        return new Span<T>((void*)data, checked((int)tensor.ElementCount));
    }

    internal ValueHandle Handle => handle;

    public void Dispose() => handle.Dispose();

    private TensorInfo Info
    {
        get
        {
            ObjectDisposedException.ThrowIf(handle.IsClosed, this);
            // Computing it twice on a race is harmless: both results are equal.
            return info ??= ReadInfo();
        }
    }

    private TensorInfo ReadInfo()
    {
        using OrtHandle.Lease lease = handle.Acquire();
        nint shapeInfo = OrtApi.GetTensorTypeAndShape(lease.Pointer);
        try
        {
            long[] shape = OrtApi.GetDimensions(shapeInfo);
            return new TensorInfo(OrtApi.GetTensorElementType(shapeInfo), shape, CountElements(shape));
        }
        finally
        {
            OrtApi.ReleaseTensorTypeAndShapeInfo(shapeInfo);
        }
    }

    internal static long CountElements(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
                throw new ArgumentException($"Tensor dimensions must not be negative (got {dim}).", nameof(shape));
            count = checked(count * dim);
        }
        return count;
    }

    private sealed record TensorInfo(TensorElementType ElementType, long[] Shape, long ElementCount);
}
