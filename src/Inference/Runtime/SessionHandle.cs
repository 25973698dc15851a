namespace Qwen.Inference.Runtime;

internal sealed class SessionHandle(nint session) : OrtHandle(session)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.ReleaseSession(handle);
        return true;
    }
}
