using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Qwen.Cluster.Transport;

namespace Qwen.Api.Routing;

/// <summary>One <see cref="SiloHttpClient"/> per silo endpoint over a shared connection pool.</summary>
public sealed class SiloClients : IDisposable
{
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<string, SiloHttpClient> _clients = new();

    public SiloClients(IOptions<RoutingOptions> options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.Value.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler) { Timeout = options.Value.CallTimeout };
    }

    public SiloHttpClient For(string endpoint) => _clients.GetOrAdd(endpoint, e => new SiloHttpClient(_http, new Uri(e)));

    public void Dispose() => _http.Dispose();
}
