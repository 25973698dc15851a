using System.Globalization;

namespace Qwen.TestSupport;

/// <summary>
/// Separate network hosts on one machine for tests: one Linux network namespace per host, each
/// joined by a veth link to a bridge in the test's own namespace (the "router" side, where
/// PostgreSQL and the Api run), each with its own address in a private /24. Names are unique per
/// instance; disposing (or the test process exiting) deletes the namespaces, links and bridge.
/// Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2.
/// </summary>
public sealed class VirtualNetwork : IAsyncDisposable
{
    private static readonly Lock LiveGate = new();
    private static readonly HashSet<VirtualNetwork> Live = [];

    private readonly string _tag;
    private readonly string _prefix;
    private readonly List<VirtualHost> _hosts = [];
    private bool _bridgeCreated;
    private bool _disposed;

    static VirtualNetwork()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            VirtualNetwork[] remaining;
            lock (LiveGate) remaining = [.. Live];
            foreach (var network in remaining) network.DisposeAsync().AsTask().GetAwaiter().GetResult();
        };
    }

    private VirtualNetwork()
    {
        _tag = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()))[..5];
        _prefix = $"10.{Random.Shared.Next(100, 250)}.{Random.Shared.Next(0, 256)}";
    }

    /// <summary>The bridge's address: where services in the test's own namespace are reached from the hosts.</summary>
    public string Gateway => $"{_prefix}.1";

    /// <summary>The hosts' network, in CIDR notation.</summary>
    public string Cidr => $"{_prefix}.0/24";

    public IReadOnlyList<VirtualHost> Hosts => _hosts;

    private string Bridge => $"qwb{_tag}";

    /// <summary>Why this machine cannot create network namespaces, or null when it can.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces need Linux";
        string? ip = FindIp();
        if (ip is null) return "iproute2's `ip` command is not installed (apt-get install iproute2)";
        const int CapNetAdmin = 12, CapSysAdmin = 21;
        string? capLine = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        ulong caps = capLine is null ? 0 : ulong.Parse(capLine["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if ((caps & (1UL << CapNetAdmin)) == 0 || (caps & (1UL << CapSysAdmin)) == 0)
            return "creating network namespaces needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); this test process lacks them";
        return null;
    }

    public static async Task<VirtualNetwork> CreateAsync(int hosts, CancellationToken cancellationToken)
    {
        if (Unavailable() is { } reason) throw new InvalidOperationException(reason);
        var network = new VirtualNetwork();
        lock (LiveGate) Live.Add(network);
        try
        {
            await network.IpAsync(cancellationToken, "link", "add", network.Bridge, "type", "bridge");
            network._bridgeCreated = true;
            await network.IpAsync(cancellationToken, "addr", "add", $"{network.Gateway}/24", "dev", network.Bridge);
            await network.IpAsync(cancellationToken, "link", "set", network.Bridge, "up");
            for (int i = 1; i <= hosts; i++)
            {
                var host = new VirtualHost($"qw{network._tag}-{i}", $"qw{network._tag}h{i}", $"{network._prefix}.{10 + i}");
                network._hosts.Add(host);
                string peer = $"qw{network._tag}p{i}";
                await network.IpAsync(cancellationToken, "netns", "add", host.Namespace);
                await network.IpAsync(cancellationToken, "link", "add", host.Link, "type", "veth", "peer", "name", peer);
                await network.IpAsync(cancellationToken, "link", "set", peer, "netns", host.Namespace);
                await network.IpAsync(cancellationToken, "link", "set", host.Link, "master", network.Bridge);
                await network.IpAsync(cancellationToken, "link", "set", host.Link, "up");
                await network.IpAsync(cancellationToken, "-n", host.Namespace, "addr", "add", $"{host.Address}/24", "dev", peer);
                await network.IpAsync(cancellationToken, "-n", host.Namespace, "link", "set", peer, "up");
                await network.IpAsync(cancellationToken, "-n", host.Namespace, "link", "set", "lo", "up");
                await network.IpAsync(cancellationToken, "-n", host.Namespace, "route", "add", "default", "via", network.Gateway);
            }
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>Cuts the host's link (carrier lost, packets dropped: no clean shutdown of anything on it).</summary>
    public Task CutAsync(VirtualHost host, CancellationToken cancellationToken) => IpAsync(cancellationToken, "link", "set", host.Link, "down");

    public Task RestoreAsync(VirtualHost host, CancellationToken cancellationToken) => IpAsync(cancellationToken, "link", "set", host.Link, "up");

    /// <summary>The command line that runs <paramref name="command"/> inside the host's namespace (same process id).</summary>
    public static IReadOnlyList<string> InHost(VirtualHost host, params IEnumerable<string> command) => ["netns", "exec", host.Namespace, .. command];

    public static string IpCommand => FindIp() ?? "ip";

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        lock (LiveGate) Live.Remove(this);
        // Deleting a namespace deletes the veth inside it and so its bridge-side end.
        foreach (var host in _hosts) await TryIpAsync("netns", "del", host.Namespace);
        foreach (var host in _hosts) await TryIpAsync("link", "del", host.Link);
        if (_bridgeCreated) await TryIpAsync("link", "del", Bridge);
    }

    private Task<string> IpAsync(CancellationToken cancellationToken, params string[] arguments) =>
        ChildProcess.RunAsync(IpCommand, arguments, Path.GetTempPath(), cancellationToken);

    private async Task TryIpAsync(params string[] arguments)
    {
        try
        {
            await IpAsync(CancellationToken.None, arguments);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static string? FindIp() =>
        new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" }.FirstOrDefault(File.Exists);
}

/// <param name="Namespace">The network namespace (`ip netns exec NAME ...`).</param>
/// <param name="Link">The bridge-side end of the host's veth link: taking it down cuts the host off.</param>
/// <param name="Address">The host's IPv4 address.</param>
public sealed record VirtualHost(string Namespace, string Link, string Address);
