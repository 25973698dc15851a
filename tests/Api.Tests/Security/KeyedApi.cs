using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Qwen.Api.Tests.PublicApi;
using Xunit;

namespace Qwen.Api.Tests.Security;

/// <summary>
/// The embedded Api with configured keys: two tenants with a user key each, an admin key, a tenant with
/// small rate limits, wrong keys limited to a small burst, and /metrics open to 127.0.0.2 only.
/// </summary>
public sealed class KeyedApi : IAsyncLifetime
{
    public const string AcmeKey = "acme-user-key-0123456789";
    public const string GlobexKey = "globex-user-key-0123456789";
    public const string AdminKey = "ops-admin-key-0123456789";
    public const string SmallKey = "small-tenant-key-0123456789";
    public const int FailedKeyBurst = 4;
    public const int SmallTenantBurst = 2;

    public EmbeddedApi Api { get; private set; } = null!;

    public async Task InitializeAsync() => Api = await EmbeddedApi.StartAsync(
        "--Auth:Keys:0:Id=acme-1", "--Auth:Keys:0:Tenant=acme", $"--Auth:Keys:0:Key={AcmeKey}",
        // Given as its hash, as an operator should.
        "--Auth:Keys:1:Id=globex-1", "--Auth:Keys:1:Tenant=globex", $"--Auth:Keys:1:Hash={Grains.Interfaces.ApiKeyHash.Of(GlobexKey)}",
        "--Auth:Keys:2:Id=ops", "--Auth:Keys:2:Tenant=ops", "--Auth:Keys:2:Admin=true", $"--Auth:Keys:2:Key={AdminKey}",
        "--Auth:Keys:3:Id=small-1", "--Auth:Keys:3:Tenant=small", $"--Auth:Keys:3:Key={SmallKey}",
        $"--RateLimit:Tenants:small:TokenLimit={SmallTenantBurst}", "--RateLimit:Tenants:small:TokensPerPeriod=1",
        "--RateLimit:Tenants:small:ReplenishmentPeriod=00:05:00",
        $"--Auth:FailedKeyLimit={FailedKeyBurst}", "--Auth:FailedKeyWindow=00:05:00",
        "--Auth:MetricsAddresses:0=127.0.0.2");

    public async Task DisposeAsync() => await Api.DisposeAsync();

    /// <summary>Sends a request with the key as <c>Authorization: Bearer</c> (or none); status and JSON body.</summary>
    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string? key,
        object? body = null, string header = "Authorization")
    {
        var request = new HttpRequestMessage(method, Api.Url + path);
        if (body is not null) request.Content = JsonContent.Create(body);
        if (key is not null)
        {
            if (header == "Authorization") request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            else request.Headers.Add(header, key);
        }
        var response = await Api.Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonElement json = default;
        if (text.Length > 0 && response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true)
            json = JsonDocument.Parse(text).RootElement.Clone();
        return ((int)response.StatusCode, json, response);
    }

    /// <summary>An HTTP client whose connections leave from <paramref name="source"/> (any 127.x address is this host).</summary>
    public static HttpClient ClientFrom(IPAddress source) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });
}
