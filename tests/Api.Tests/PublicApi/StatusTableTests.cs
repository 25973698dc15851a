using System.Text;
using System.Text.Json;
using FluentAssertions;
using Qwen.Api.Tests.Observability;
using Qwen.Observability.Prometheus;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// Each row of docs/api.md's status table, provoked over a raw socket and answered with exactly its
/// status and a JSON reason (problem details on the task endpoints, OpenAI's error on /v1/chat and
/// /v1/models); malformed framing is a 400, never a 500 with a stack trace in the log; a client that
/// hangs up mid-body is logged as 499. The 503 row needs a cluster without silos: NoSiloTests.
/// </summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class StatusTableTests(EmbeddedApiCollection.Fixture fixture, ITestOutputHelper output)
{
    private readonly EmbeddedApi _api = fixture.Api;

    /// <summary>One row: the raw request, the exact status, and a word the reason must contain.</summary>
    public sealed record Row(string Name, byte[] Request, int Status, string Expect);

    private const string Sentiment = "/v1/sentiment";
    private const string Messages = "/v1/conversations/status-table/messages";
    private const string Completions = "/v1/chat/completions";
    private const string Chat = "{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    [Fact]
    public async Task Every_row_of_the_status_table_gets_exactly_its_status_and_a_JSON_reason()
    {
        var failures = new List<string>();
        var rows = Rows().ToList();
        foreach (var row in rows)
        {
            var response = await RawHttp.ExchangeAsync(_api.Url, row.Request, TimeSpan.FromSeconds(30));
            string? reason = response is null ? null : ReasonOf(response.Body);
            if (response?.Status != row.Status || reason is null || !reason.Contains(row.Expect, StringComparison.OrdinalIgnoreCase))
                failures.Add($"{row.Name}: expected {row.Status} '{row.Expect}', got {response?.Status.ToString() ?? "no answer"} {response?.Body}");
            else
                output.WriteLine($"{row.Status} {row.Name}: {reason}");
        }
        failures.Should().BeEmpty();
        rows.Select(r => r.Status).Distinct().Should().BeEquivalentTo([400, 404, 405, 413, 414, 415, 431]);
        _api.Process.RecentOutput.Should().NotContain("Exception", "no request of a client is a server error with a stack trace");

        // Refused keys were not replaced by fresh ids: nothing was stored for either user, so neither conversation exists.
        foreach (string user in (string[])["status-table", "status-table-openai"])
        {
            var (status, _) = await _api.GetJsonAsync($"/v1/conversations/{user}");
            status.Should().Be(404);
        }
    }

    [Fact]
    public async Task A_client_that_hangs_up_mid_body_is_logged_as_499_without_a_stack_trace()
    {
        const string id = "hang-up-mid-body";
        await RawHttp.HangUpAfterAsync(_api.Url, Encoding.ASCII.GetBytes(
            $"POST {Messages} HTTP/1.1\r\nHost: x\r\nX-Request-Id: {id}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"content\":\"hel"));

        string line = await LogLineAsync(id);
        line.Should().Contain("TASK=chat").And.Contain("status=499");
        _api.Process.RecentOutput.Should().NotContain("Exception");
        // Counted as 499 (the line is written as the request ends, after it was measured).
        var families = PrometheusTextParser.Parse(await _api.Http.GetStringAsync(_api.Url + "/metrics"));
        families.Sum("qwen_api_requests_total", ("task", "chat"), ("status", "499")).Should().BeGreaterThanOrEqualTo(1);
        families.Sum("qwen_api_requests_total", ("task", "chat"), ("status", "500")).Should().Be(0);
    }

    private IEnumerable<Row> Rows()
    {
        // Malformed framing: Kestrel detects it while the endpoint reads the body.
        foreach (string path in (string[])[Sentiment, Messages, Completions])
        {
            string body = path == Completions ? Chat + "}" : path == Sentiment ? "{\"text\":\"a\"}" : "{\"content\":\"a\"}";
            yield return Framed(path, "a bad chunk size", "Transfer-Encoding: chunked", $"ZZ\r\n{body}\r\n0\r\n\r\n", "malformed");
            yield return Framed(path, "an overflowing chunk size", "Transfer-Encoding: chunked", $"FFFFFFFFFFFFFFFFFF\r\n{body}\r\n0\r\n\r\n", "malformed");
            yield return Framed(path, "gzip, chunked", "Transfer-Encoding: gzip, chunked", $"{body.Length:x}\r\n{body}\r\n0\r\n\r\n", "gzip");
            yield return Framed(path, "a bad chunk end", "Transfer-Encoding: chunked", $"{body.Length:x}\r\n{body}XX0\r\n\r\n", "malformed");
            yield return Framed(path, "gzip, chunked with a Content-Length", $"Transfer-Encoding: gzip, chunked\r\nContent-Length: {body.Length}",
                $"{body.Length:x}\r\n{body}\r\n0\r\n\r\n", "gzip");
            // Duplicate keys: two parsers could read two different requests from one body.
            string duplicate = path == Completions ? Chat + ",\"model\":\"other\"}" : path == Sentiment ? "{\"text\":\"a\",\"text\":\"b\"}" : "{\"content\":\"a\",\"content\":\"b\"}";
            yield return Post(path, "duplicate keys", [], duplicate, 400, "duplicate");
            string big = "{\"text\":\"" + new string('a', 1024 * 1024) + "\"}";
            yield return Post(path, "text/plain", ["Content-Type: text/plain"], body, 415, "Content-Type");
            yield return Post(path, "a body over 1 MiB", [], big, 413, "limit");
            yield return Framed(path, "a chunked body over 1 MiB", "Transfer-Encoding: chunked", $"{big.Length:x}\r\n{big}\r\n0\r\n\r\n", "limit", status: 413);
            yield return Post(path, "101 headers", [.. Enumerable.Range(0, 101).Select(i => $"X-Pad-{i}: v")], body, 431, "headers");
            yield return Post(path, "40 KiB of headers", [$"X-Pad: {new string('p', 40 * 1024)}"], body, 431, "headers");
            yield return Post(path, "a bad X-Request-Timeout-Ms", ["X-Request-Timeout-Ms: soon"], body, 400, "X-Request-Timeout-Ms");
        }
        // An Idempotency-Key over 128 characters is refused, never replaced by a fresh id (a retry would store the turn twice).
        string longKey = new('k', 129);
        yield return Post(Messages, "a 129-character Idempotency-Key", [$"Idempotency-Key: {longKey}"], "{\"content\":\"a\"}", 400, "Idempotency-Key");
        yield return Post(Completions, "a 129-character Idempotency-Key", [$"Idempotency-Key: {longKey}"],
            Chat + ",\"user\":\"status-table-openai\"}", 400, "Idempotency-Key");
        yield return Post(Messages, "an empty Idempotency-Key", ["Idempotency-Key: "], "{\"content\":\"a\"}", 400, "Idempotency-Key");

        yield return Send("GET", "/v1/nothing", "no such route", [], null, 404, "no endpoint");
        yield return Send("GET", "/v1/models/gpt-4", "no such model", [], null, 404, "gpt-4");
        yield return Send("GET", Sentiment, "GET on a POST endpoint", [], null, 405, "not allowed");
        yield return Send("PUT", Messages, "PUT on a POST endpoint", [], "{}", 405, "not allowed");
        yield return Send("DELETE", "/v1/models", "DELETE on a GET endpoint", [], null, 405, "not allowed");
        yield return Send("POST", Completions.Replace("completions", "x", StringComparison.Ordinal) + "?" + new string('q', 5000), "a 5000-character URL",
            [], null, 414, "URL");
        yield return Send("GET", "/v1/conversations/" + new string('u', 4100), "a 4100-character path", [], null, 414, "URL");
    }

    private Row Framed(string path, string name, string framing, string body, string expect, int status = 400) =>
        new($"POST {path} {name}", RawHttp.Request(
            $"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{framing}", Encoding.UTF8.GetBytes(body)),
            status, expect);

    private Row Post(string path, string name, string[] headers, string body, int status, string expect) =>
        Send("POST", path, name, headers.Any(h => h.StartsWith("Content-Type:", StringComparison.Ordinal)) ? headers : ["Content-Type: application/json", .. headers],
            body, status, expect);

    private Row Send(string method, string target, string name, string[] headers, string? body, int status, string expect)
    {
        byte[]? bytes = body is null ? null : Encoding.UTF8.GetBytes(body);
        string head = $"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{string.Join("", headers.Select(h => h + "\r\n"))}"
            + (bytes is null ? "" : $"Content-Length: {bytes.Length}\r\n");
        return new Row($"{method} {(target.Length > 60 ? target[..60] + "…" : target)} {name}", RawHttp.Request(head, bytes), status, expect);
    }

    /// <summary>The problem detail, or OpenAI's error message; null when the body is neither.</summary>
    private static string? ReasonOf(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.TryGetProperty("detail", out var detail)) return detail.GetString();
            if (root.TryGetProperty("error", out var error) && error.TryGetProperty("message", out var message)) return message.GetString();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The one log line of a request, written as the request ends.</summary>
    private async Task<string> LogLineAsync(string requestId)
    {
        string marker = $"[REQ-{requestId}]";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_api.Process.RecentOutput.Split('\n').FirstOrDefault(l => l.Contains(marker, StringComparison.Ordinal)) is { } line) return line;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no log line for {requestId}:\n{_api.Process.RecentOutput}");
    }
}
