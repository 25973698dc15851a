namespace Qwen.Inference.Runtime;

internal sealed class SessionOptionsHandle(nint options) : OrtHandle(options)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.ReleaseSessionOptions(handle);
        return true;
    }
}
