using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.MultiHost;

/// <summary>A test that runs only where network namespaces can be created (root with CAP_NET_ADMIN, iproute2); skipped with the reason otherwise.</summary>
public sealed class NetworkNamespacesFactAttribute : FactAttribute
{
    public NetworkNamespacesFactAttribute()
    {
        if (VirtualNetwork.Unavailable() is { } reason) Skip = $"multi-host test skipped: {reason}";
    }
}
