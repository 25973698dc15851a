using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Qwen.Inference.Native;

/// <summary>
/// Floats outside the GC heap, for large long-lived tensors such as KV caches: memory is mapped
/// on Linux (untouched pages are free, and disposal gives every page back at once) and comes
/// from the native allocator elsewhere. Contents start unspecified. A tensor created over it
/// pins it, so it is freed only after the last such tensor is disposed.
/// </summary>
public sealed unsafe class NativeFloatBuffer : SafeHandle
{
    private readonly nuint _bytes;
    private readonly bool _mapped;

    public NativeFloatBuffer(long length) : base(0, ownsHandle: true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
        _bytes = checked((nuint)length * sizeof(float));
        _mapped = AnonymousMemory.IsSupported;
        nint address = _mapped ? AnonymousMemory.Map(_bytes) : (nint)NativeMemory.AlignedAlloc(_bytes, 64);
        if (address == 0) throw new OutOfMemoryException($"cannot allocate {_bytes} bytes of native memory");
        SetHandle(address);
    }

    /// <summary>Floats in the buffer.</summary>
    public long Length { get; }

    public override bool IsInvalid => handle == 0;

    public float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (float*)handle;
        }
    }

    /// <summary>Floats [start, start + count).</summary>
    public Span<float> Slice(long start, int count)
    {
        if (start < 0 || count < 0 || start + count > Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"[{start}, {start + count}) is outside the buffer of {Length}");
        return new Span<float>(Pointer + start, count);
    }

    /// <summary>
    /// Gives the memory of floats [start, start + count) back where it can (whole pages of a mapped
    /// buffer); their values become unspecified. Elsewhere nothing happens.
    /// </summary>
    public void Discard(long start, long count)
    {
        if (start < 0 || count < 0 || start + count > Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"[{start}, {start + count}) is outside the buffer of {Length}");
        if (_mapped && count > 0) AnonymousMemory.Discard((nint)(Pointer + start), (nuint)(count * sizeof(float)));
    }

    /// <summary>
    /// A tensor of <paramref name="shape"/> over floats from <paramref name="start"/>, sharing this
    /// memory. ORT pins the memory for the tensor's lifetime, which keeps this buffer alive.
    /// </summary>
    public OrtValue Tensor(long start, long[] shape)
    {
        long count = 1;
        foreach (long dim in shape) count = checked(count * dim);
        if (start < 0 || count < 0 || start + count > Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + count}) is outside the buffer of {Length}");
        var window = new Window(this, start, checked((int)count));
        return OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, window.Memory, shape);
    }

    protected override bool ReleaseHandle()
    {
        if (_mapped) AnonymousMemory.Unmap(handle, _bytes);
        else NativeMemory.AlignedFree((void*)handle);
        return true;
    }

    /// <summary>Part of the buffer as <see cref="Memory{T}"/>; pinning it holds a reference on the buffer.</summary>
    private sealed class Window(NativeFloatBuffer owner, long start, int length) : MemoryManager<float>
    {
        public override Span<float> GetSpan() => new(owner.Pointer + start, length);

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)length);
            bool added = false;
            owner.DangerousAddRef(ref added);
            return new MemoryHandle(owner.Pointer + start + elementIndex, default, this);
        }

        public override void Unpin() => owner.DangerousRelease();

        protected override void Dispose(bool disposing)
        {
        }
    }
}
