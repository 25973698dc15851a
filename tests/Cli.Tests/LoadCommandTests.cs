using System.Text.Json;
using FluentAssertions;
using Qwen.Cli.Tests.Support;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary><c>qwen load</c> against a real Api process (embedded silo, tiny model).</summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class LoadCommandTests(EmbeddedApiFixture fixture) : IDisposable
{
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"qwen-load-{Guid.NewGuid():N}.json");

    [Fact]
    public async Task Each_level_is_measured_and_every_request_succeeds()
    {
        var run = await CommandRun.QwenAsync("load", "--url", fixture.ApiUrl, "--levels", "1,3", "--duration", "2s", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("P99 ms").And.Contain("error rate").And.Contain("server RSS MB");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToArray();
        rows.Select(r => r.GetProperty("concurrency").GetInt32()).Should().Equal(1, 3);
        foreach (var row in rows)
        {
            row.GetProperty("errors").GetInt32().Should().Be(0, row.ToString());
            row.GetProperty("succeeded").GetInt32().Should().BePositive().And.Be(row.GetProperty("requests").GetInt32());
            row.GetProperty("error_rate").GetDouble().Should().Be(0);
            row.GetProperty("throughput_rps").GetDouble().Should().BePositive();
            row.GetProperty("p99_ms").GetDouble().Should().BeGreaterThanOrEqualTo(row.GetProperty("p50_ms").GetDouble());
        }
        rows.Sum(r => r.GetProperty("sentiment_requests").GetInt32()).Should().BePositive();
        rows.Sum(r => r.GetProperty("chat_requests").GetInt32()).Should().BePositive();

        // The RSS column reads the server's own /metrics: a figure when it publishes one, "n/a" (null) when not.
        using var http = new HttpClient();
        using var metrics = await http.GetAsync(fixture.ApiUrl + "/metrics");
        bool published = metrics.IsSuccessStatusCode && PrometheusRss(await metrics.Content.ReadAsStringAsync());
        foreach (var row in rows)
        {
            var rss = row.GetProperty("server_rss_mb");
            if (published) rss.GetDouble().Should().BeGreaterThan(10);
            else rss.ValueKind.Should().Be(JsonValueKind.Null);
        }
    }

    [Fact]
    public async Task Refusals_are_counted_by_status_and_users_wait_as_told()
    {
        // A server that runs one request at a time and queues none: concurrent users get 429 with Retry-After.
        await using var api = ServiceProcess.Start("api-small", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
        [
            $"--Model:Path={fixture.ModelDirectory}",
            "--Model:Threads=1",
            "--Inference:Scheduling=Sequential",
            "--Inference:MaxConcurrentRequests=1",
            "--Inference:MaxQueueLength=0",
            "--Inference:DefaultMaxNewTokens=32",
            "--Conversations:MaxNewTokens=32",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await api.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));

        var run = await CommandRun.QwenAsync("load", "--url", api.Url, "--levels", "6", "--duration", "3s", "--json", _json);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("429×");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_json));
        var row = json.RootElement.GetProperty("rows")[0];
        row.GetProperty("succeeded").GetInt32().Should().BePositive();
        int refused = row.GetProperty("errors_by_status").GetProperty("429").GetInt32();
        refused.Should().BePositive();
        row.GetProperty("errors").GetInt32().Should().Be(refused, row.ToString());
        row.GetProperty("error_rate").GetDouble().Should().BeApproximately((double)refused / row.GetProperty("requests").GetInt32(), 1e-9);
        // The report quotes what the server said: the 429's JSON body.
        var samples = row.GetProperty("error_samples").EnumerateArray().Select(e => e.GetString()!).ToArray();
        samples.Should().NotBeEmpty().And.OnlyContain(e => e.StartsWith("429: {", StringComparison.Ordinal), row.ToString());
        // Retry-After is 1 s: each of 6 users can be refused about once a second, not hundreds of times.
        refused.Should().BeLessThanOrEqualTo(6 * 5, row.ToString());
    }

    private static bool PrometheusRss(string text) => Load.PrometheusText.Rss(text) is not null;

    public void Dispose() => File.Delete(_json);
}
