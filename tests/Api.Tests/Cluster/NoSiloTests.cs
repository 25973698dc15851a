using System.Text;
using FluentAssertions;
using Qwen.Api.Tests.PublicApi;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// A clustered Api whose cluster has no silo yet (its Redis membership only): the 503 row of docs/api.md's
/// status table, with Retry-After, on every family of endpoints, each logged as one request line.
/// </summary>
public sealed class NoSiloTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private ServiceProcess _api = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartNewAsync(CancellationToken.None);
        _api = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
            // Keys are not this test's subject (ClusterApiKeyTests covers them without silos).
            [$"--Cluster:ClusterId=nosilo-{Guid.NewGuid():N}"[..32], "--Auth:Disabled=true"],
            new Dictionary<string, string> { ["Cluster__Redis"] = _redis.Configuration });
        // Up, but not ready: there is nothing to serve with.
        await _api.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), "/healthz");
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Requests_get_503_with_Retry_After_and_one_log_line_each()
    {
        (string Path, string Body, string Expect)[] requests =
        [
            ("/v1/sentiment", "{\"text\":\"private words\"}", "silo"),
            ("/v1/conversations/nosilo-user/messages", "{\"content\":\"private words\"}", "silo"),
            ("/v1/chat/completions", "{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":\"private words\"}]}", "silo"),
        ];
        foreach (var (path, body, expect) in requests)
        {
            string id = $"nosilo-{path.Length}";
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            var response = await RawHttp.ExchangeAsync(_api.Url, RawHttp.Request(
                $"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: {id}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}",
                bytes), TimeSpan.FromSeconds(30));
            response.Should().NotBeNull();
            response!.Status.Should().Be(503, response.Body);
            int.Parse(response.Header("Retry-After")!, System.Globalization.CultureInfo.InvariantCulture).Should().BeInRange(1, 10);
            response.Body.Should().Contain(expect);

            string line = await LogLineAsync(id);
            line.Should().Contain("status=503").And.NotContain("private");
        }
        (await RawHttp.SendAsync(_api.Url, "GET", "/readyz")).Status.Should().Be(503);
    }

    private async Task<string> LogLineAsync(string requestId)
    {
        string marker = $"[REQ-{requestId}]";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_api.RecentOutput.Split('\n').FirstOrDefault(l => l.Contains(marker, StringComparison.Ordinal)) is { } line) return line;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no log line for {requestId}:\n{_api.RecentOutput}");
    }
}
