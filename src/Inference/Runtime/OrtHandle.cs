using System.Runtime.InteropServices;

namespace Qwen.Inference.Runtime;

/// <summary>Owns one ORT object pointer and releases it exactly once, even if never disposed.</summary>
internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle(nint pointer) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(pointer);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Keeps the native object alive until the lease is disposed, even if the handle is
    /// disposed meanwhile on another thread. Throws <see cref="ObjectDisposedException"/> if already closed.</summary>
    internal Lease Acquire()
    {
        bool added = false;
        DangerousAddRef(ref added);
        return new Lease(this);
    }

    internal readonly struct Lease(OrtHandle owner) : IDisposable
    {
        public nint Pointer => owner.DangerousGetHandle();

        public void Dispose() => owner.DangerousRelease();
    }
}
