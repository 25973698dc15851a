using System.Net;
using System.Net.Sockets;

namespace Qwen.TestSupport;

/// <summary>Loopback TCP ports nobody is listening on (for servers a test starts).</summary>
public static class FreePort
{
    /// <summary>
    /// A port the OS just handed out and released. Another process could take it before the
    /// caller binds it, so servers started on it should retry with a new port when binding fails.
    /// </summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
