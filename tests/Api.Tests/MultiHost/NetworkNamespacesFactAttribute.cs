using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.MultiHost;

/// <summary>
/// A test that needs network namespaces (root with CAP_NET_ADMIN, iproute2). Elsewhere it is skipped with
/// the reason, except under CI=true: there it runs and fails with that reason, so CI cannot pass by skipping it.
/// </summary>
public sealed class NetworkNamespacesFactAttribute : FactAttribute
{
    public NetworkNamespacesFactAttribute()
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!ci && VirtualNetwork.Unavailable() is { } reason) Skip = $"multi-host test skipped: {reason}";
    }
}
