using System.Net.Http.Json;
using System.Text.RegularExpressions;
using FluentAssertions;
using Xunit;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// Per-client rate limits (429 with Retry-After), request timeouts (504), request ids and the one
/// log line per request, on an Api started with strict limits and text kept out of its logs.
/// </summary>
public sealed class LimitsTests(LimitsTests.StrictApi fixture) : IClassFixture<LimitsTests.StrictApi>
{
    private readonly EmbeddedApi _api = fixture.Api;

    public sealed class StrictApi : IAsyncLifetime
    {
        public EmbeddedApi Api { get; private set; } = null!;

        /// <summary>The keys the tests send, configured so that each is checked and has its own bucket.</summary>
        private static readonly string[] Keys =
            ["client-a", "client-b", "client-timeout", "client-ids", "client-ids-7", "client-ids-10", "client-ids-65"];

        public async Task InitializeAsync() => Api = await EmbeddedApi.StartAsync([
            .. Keys.SelectMany((key, i) => (string[])[$"--Auth:Keys:{i}:Id={key}-id", $"--Auth:Keys:{i}:Key={key}"]),
            "--RateLimit:TokenLimit=3", "--RateLimit:TokensPerPeriod=1", "--RateLimit:ReplenishmentPeriod=00:00:30",
            "--Api:RequestTimeout=00:00:00.300", "--Api:LogText=false", "--Inference:MaxNewTokensLimit=512", "--Api:MaxTokensLimit=512"]);

        public async Task DisposeAsync() => await Api.DisposeAsync();
    }

    private HttpRequestMessage Request(HttpMethod method, string path, string apiKey, object? body = null)
    {
        var request = new HttpRequestMessage(method, _api.Url + path);
        request.Headers.Add("X-Api-Key", apiKey);
        if (body is not null) request.Content = JsonContent.Create(body);
        return request;
    }

    [Fact]
    public async Task A_client_over_its_token_bucket_gets_429_with_Retry_After_and_others_are_unaffected()
    {
        for (int i = 0; i < 3; i++) (await _api.SendAsync(Request(HttpMethod.Get, "/v1/models", "client-a"))).Status.Should().Be(200);

        var (status, body, response) = await _api.SendAsync(Request(HttpMethod.Get, "/v1/models", "client-a"));
        status.Should().Be(429);
        int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture).Should().BeInRange(1, 30);
        body.GetProperty("error").GetProperty("type").GetString().Should().Be("rate_limit_error");
        body.GetProperty("error").GetProperty("message").GetString().Should().Contain("too many requests");

        // The task endpoints answer the same refusal as problem details.
        var (taskStatus, problem, _) = await _api.SendAsync(Request(HttpMethod.Post, "/v1/sentiment", "client-a", new { text = "x" }));
        taskStatus.Should().Be(429);
        problem.GetProperty("status").GetInt32().Should().Be(429);
        problem.GetProperty("detail").GetString().Should().Contain("too many requests");

        (await _api.SendAsync(Request(HttpMethod.Get, "/v1/models", "client-b"))).Status.Should().Be(200, "each API key has its own bucket");
        for (int i = 0; i < 10; i++) (await _api.GetJsonAsync("/healthz")).Status.Should().Be(200, "operations endpoints are not limited");
    }

    [Fact]
    public async Task A_request_over_its_time_gets_504_and_one_log_line_without_its_text()
    {
        var request = Request(HttpMethod.Post, "/v1/conversations/slow-user/messages", "client-timeout",
            new { content = "secret words", max_tokens = 512 });
        request.Headers.Add("X-Request-Id", "timeout-req-1");
        var (status, problem, response) = await _api.SendAsync(request);
        status.Should().Be(504, problem.ToString());
        // The deadline travels with the turn: the silo stops the reply at it and says so.
        problem.GetProperty("detail").GetString().Should().Contain("deadline").And.Contain("stopped");
        response.Headers.GetValues("X-Request-Id").Should().Equal("timeout-req-1");

        string line = await LogLineAsync("timeout-req-1");
        line.Should().Contain("TASK=chat INPUT=\"<12 chars>\"").And.Contain("status=504").And.NotContain("secret");
    }

    [Fact]
    public async Task Requests_keep_a_sane_client_id_and_get_a_fresh_one_otherwise()
    {
        var good = Request(HttpMethod.Post, "/v1/sentiment", "client-ids", new { text = "" });
        good.Headers.Add("X-Request-Id", "client-chosen.id_1");
        var (status, problem, response) = await _api.SendAsync(good);
        status.Should().Be(400);
        response.Headers.GetValues("X-Request-Id").Should().Equal("client-chosen.id_1");
        problem.GetProperty("request_id").GetString().Should().Be("client-chosen.id_1");
        (await LogLineAsync("client-chosen.id_1")).Should().Contain("TASK=sentiment").And.Contain("status=400");

        foreach (string bad in (string[])["has spaces", new string('x', 65), "quote\"d", "semi;colon"])
        {
            var request = Request(HttpMethod.Get, "/v1/models", "client-ids-" + bad.Length);
            request.Headers.TryAddWithoutValidation("X-Request-Id", bad);
            var (_, _, answer) = await _api.SendAsync(request);
            answer.Headers.GetValues("X-Request-Id").Single().Should().MatchRegex("^[0-9a-f]{16}$");
        }
    }

    /// <summary>The one log line of a request (it is written as the request ends, so wait for it).</summary>
    private async Task<string> LogLineAsync(string requestId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string marker = $"[REQ-{requestId}]";
        while (true)
        {
            var lines = _api.Process.RecentOutput.Split('\n').Where(l => l.Contains(marker, StringComparison.Ordinal)).ToArray();
            if (lines.Length > 0)
            {
                await Task.Delay(300);
                lines = _api.Process.RecentOutput.Split('\n').Where(l => l.Contains(marker, StringComparison.Ordinal)).ToArray();
                lines.Should().ContainSingle("exactly one line is written per request");
                Regex.IsMatch(lines[0], @"\] TASK=\S+ INPUT="".*"" -> OUTPUT="".*"" \d+ms status=\d+ silo=\S+").Should().BeTrue(lines[0]);
                return lines[0];
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no log line for {requestId}:\n{_api.Process.RecentOutput}");
            await Task.Delay(100);
        }
    }
}
