using System.Net;

namespace Qwen.Api.Security;

/// <summary>The addresses allowed to scrape /metrics without a key (Auth:MetricsAddresses).</summary>
public sealed class MetricsScrapers
{
    private readonly IReadOnlyList<IPNetwork> _networks;

    /// <exception cref="InvalidOperationException">An entry is neither an address nor a range: the Api does not start.</exception>
    public MetricsScrapers(IEnumerable<string> entries)
    {
        _networks = [.. entries.Select(Parse)];
    }

    public bool Allows(IPAddress? address)
    {
        if (address is null || _networks.Count == 0) return false;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var network in _networks)
        {
            if (network.Contains(address)) return true;
        }
        return false;
    }

    private static IPNetwork Parse(string entry)
    {
        string text = entry.Trim();
        if (IPAddress.TryParse(text, out var single)) return new IPNetwork(single, single.GetAddressBytes().Length * 8);
        return IPNetwork.TryParse(text, out var network) ? network
            : throw new InvalidOperationException(
                $"{AuthOptions.Section}:MetricsAddresses has '{entry}', which is neither an IP address nor a range such as 10.0.0.0/24");
    }
}
