namespace Qwen.Inference.Runtime;

internal sealed class RunOptionsHandle(nint options) : OrtHandle(options)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.ReleaseRunOptions(handle);
        return true;
    }
}
