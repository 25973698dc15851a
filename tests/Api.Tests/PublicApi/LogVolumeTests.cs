using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// With the log settings the Api ships (appsettings.json: ASP.NET Core's, Orleans' and Polly's own categories at
/// Warning, one line per event), one request writes one log line: N public requests add N lines to the process's output.
/// </summary>
public sealed class LogVolumeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private EmbeddedApi _api = null!;

    public async Task InitializeAsync() => _api = await EmbeddedApi.StartWithShippedLogSettingsAsync("--RateLimit:Enabled=false");

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task Each_request_writes_exactly_one_short_line()
    {
        const int count = 200;
        // One of each first, so that anything logged once (first use of a path) is behind us.
        await SendAsync(-1);
        await WaitForRequestLinesAsync("log-w", 5);
        long lines = _api.Process.LinesWritten, chars = _api.Process.CharsWritten;

        for (int i = 0; i < count / 5; i++) await SendAsync(i);
        // Operations endpoints log at Debug: none of these adds a line.
        for (int i = 0; i < 20; i++) (await _api.GetJsonAsync("/healthz")).Status.Should().Be(200);
        await WaitForRequestLinesAsync("log-r", count);

        long newLines = _api.Process.LinesWritten - lines, newChars = _api.Process.CharsWritten - chars;
        output.WriteLine($"{count} requests wrote {newLines} lines, {newChars} characters ({newChars / count} per request)");
        newLines.Should().Be(count, $"one request writes one line; the output ends:\n{Tail()}");
        (newChars / count).Should().BeLessThan(300, "1,000 requests make well under 1 MB of log");
    }

    /// <summary>
    /// Five requests: a sentiment, a client error, an unknown path, a model list, and the first turn of a new conversation
    /// (a grain placed and activated: Orleans' own placement logs stay out).
    /// </summary>
    private async Task SendAsync(int i)
    {
        string prefix = i < 0 ? "log-w" : "log-r";
        foreach (var (method, path, body, status) in ((string, string, string?, int)[])
                 [
                     ("POST", "/v1/sentiment", "{\"text\":\"今天很好\"}", 200), ("POST", "/v1/sentiment", "{\"text\":7}", 400),
                     ("GET", "/v1/nothing", null, 404), ("GET", "/v1/models", null, 200),
                     ("POST", $"/v1/conversations/{prefix}-user-{i + 1}/messages", "{\"content\":\"你好\",\"max_tokens\":2}", 200),
                 ])
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), _api.Url + path);
            request.Headers.Add("X-Request-Id", $"{prefix}-{i}-{path.Length}-{status}");
            if (body is not null) request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var response = await _api.Http.SendAsync(request);
            ((int)response.StatusCode).Should().Be(status);
        }
    }

    private async Task WaitForRequestLinesAsync(string prefix, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_api.Process.RecentOutput.Split('\n').Count(l => l.Contains($"[REQ-{prefix}-", StringComparison.Ordinal)) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"fewer than {count} request lines:\n{Tail()}");
            await Task.Delay(50);
        }
    }

    private string Tail() => string.Join('\n', _api.Process.RecentOutput.Split('\n').TakeLast(30));
}
