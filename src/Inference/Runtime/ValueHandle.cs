using System.Buffers;

namespace Qwen.Inference.Runtime;

/// <summary>
/// Owns an <c>OrtValue*</c> and, for tensors over managed memory, the pin that keeps that memory
/// in place: the pin is only dropped after ORT has released the value that points into it.
/// </summary>
internal sealed class ValueHandle : OrtHandle
{
    private MemoryHandle pin;

    internal ValueHandle(nint value, MemoryHandle pin = default) : base(value)
    {
        this.pin = pin;
    }

    protected override bool ReleaseHandle()
    {
        OrtApi.ReleaseValue(handle);
        pin.Dispose();
        return true;
    }
}
