using Qwen.Silo.Runtime;

namespace Qwen.Grains.Tests.Support;

internal sealed class DelegatePlacement(Func<string, bool> isLocalOwner) : IGrainPlacement
{
    public bool IsLocalOwner(string userId) => isLocalOwner(userId);
}
