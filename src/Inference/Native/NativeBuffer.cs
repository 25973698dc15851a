using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Native;

/// <summary>
/// Bytes outside the GC heap, for large long-lived tensors such as KV caches: memory is mapped
/// on Linux (untouched pages are free, and disposal gives every page back at once) and comes
/// from the native allocator elsewhere. Contents start unspecified. Read and written as
/// elements of an unmanaged type (float32 or float16 KV). A tensor created over it pins it, so
/// it is freed only after the last such tensor is disposed.
/// </summary>
public sealed unsafe class NativeBuffer : SafeHandle
{
    private readonly nuint _bytes;
    private readonly bool _mapped;

    public NativeBuffer(long bytes) : base(0, ownsHandle: true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        Length = bytes;
        _bytes = checked((nuint)bytes);
        _mapped = AnonymousMemory.IsSupported;
        nint address = _mapped ? AnonymousMemory.Map(_bytes) : (nint)NativeMemory.AlignedAlloc(_bytes, 64);
        if (address == 0) throw new OutOfMemoryException($"cannot allocate {_bytes} bytes of native memory");
        SetHandle(address);
    }

    /// <summary>Bytes in the buffer.</summary>
    public long Length { get; }

    public override bool IsInvalid => handle == 0;

    private byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (byte*)handle;
        }
    }

    /// <summary>Elements [start, start + count) of type <typeparamref name="T"/>.</summary>
    public Span<T> Slice<T>(long start, int count) where T : unmanaged
    {
        if (start < 0 || count < 0 || (start + count) * sizeof(T) > Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"[{start}, {start + count}) is outside the buffer of {Length / sizeof(T)} elements");
        return new Span<T>((T*)Pointer + start, count);
    }

    /// <summary>
    /// Gives the memory of bytes [start, start + count) back where it can (whole pages of a
    /// mapped buffer); their values become unspecified. Elsewhere nothing happens.
    /// </summary>
    public void Discard(long start, long count)
    {
        if (start < 0 || count < 0 || start + count > Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"[{start}, {start + count}) is outside the buffer of {Length} bytes");
        if (_mapped && count > 0) AnonymousMemory.Discard((nint)(Pointer + start), (nuint)count);
    }

    /// <summary>
    /// A tensor of <paramref name="shape"/> over elements of <typeparamref name="T"/> from
    /// <paramref name="start"/>, sharing this memory. ORT pins the memory for the tensor's
    /// lifetime, which keeps this buffer alive.
    /// </summary>
    public OrtValue Tensor<T>(long start, long[] shape) where T : unmanaged
    {
        long count = 1;
        foreach (long dim in shape) count = checked(count * dim);
        if (start < 0 || count < 0 || (start + count) * sizeof(T) > Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + count}) is outside the buffer of {Length / sizeof(T)} elements");
        var window = new Window<T>(this, start, checked((int)count));
        return OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, window.Memory, shape);
    }

    protected override bool ReleaseHandle()
    {
        if (_mapped) AnonymousMemory.Unmap(handle, _bytes);
        else NativeMemory.AlignedFree((void*)handle);
        return true;
    }

    /// <summary>Part of the buffer as <see cref="Memory{T}"/>; pinning it holds a reference on the buffer.</summary>
    private sealed class Window<T>(NativeBuffer owner, long start, int length) : MemoryManager<T> where T : unmanaged
    {
        public override Span<T> GetSpan() => new((T*)owner.Pointer + start, length);

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)length);
            bool added = false;
            owner.DangerousAddRef(ref added);
            return new MemoryHandle((T*)owner.Pointer + start + elementIndex, default, this);
        }

        public override void Unpin() => owner.DangerousRelease();

        protected override void Dispose(bool disposing)
        {
        }
    }
}
