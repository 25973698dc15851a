using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// Several hundred malformed requests: every one gets exactly the 4xx that docs/api.md's status table gives it, with a
/// JSON message that says what is wrong; afterwards the service is healthy and a conversation made before is untouched.
/// </summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class HostileInputTests(EmbeddedApiCollection.Fixture fixture, ITestOutputHelper output)
{
    private readonly EmbeddedApi _api = fixture.Api;

    /// <summary>One malformed request: how to send it, a word its message must contain, and its exact status.</summary>
    private sealed record Hostile(string Name, Func<Task<(int Status, string Body)>> Send, string Expect, int Status = 400);

    [Fact]
    public async Task Hundreds_of_malformed_requests_get_clear_4xx_answers_and_harm_nobody()
    {
        const string keeper = "keeper-1";
        foreach (string content in (string[])["你好", "明天天气怎么样？"])
            (await _api.PostJsonAsync($"/v1/conversations/{keeper}/messages", new { content })).Status.Should().Be(200);
        var (_, before) = await _api.GetJsonAsync($"/v1/conversations/{keeper}");

        var cases = Cases().ToList();
        cases.Count.Should().BeGreaterThan(300);
        var failures = new List<string>();
        foreach (var hostile in cases)
        {
            var (status, body) = await hostile.Send();
            string? message = MessageOf(body);
            if (status != hostile.Status || message is null || !message.Contains(hostile.Expect, StringComparison.OrdinalIgnoreCase))
                failures.Add($"{hostile.Name}: expected {hostile.Status}, got {status} {body[..Math.Min(body.Length, 300)]}");
        }
        // An encoded NUL in the path is refused by Kestrel itself, before any application code, with a bare 400.
        foreach (string target in (string[])["/v1/conversations/a%00b", "/v1/conversations/a%00b/messages"])
            (await RawHttp.SendAsync(_api.Url, "GET", target)).Status.Should().Be(400);
        output.WriteLine($"{cases.Count} malformed requests, {failures.Count} answered badly");
        failures.Should().BeEmpty();

        (await _api.GetJsonAsync("/healthz")).Status.Should().Be(200);
        (await _api.GetJsonAsync("/readyz")).Status.Should().Be(200);
        (await _api.PostJsonAsync("/v1/sentiment", new { text = "一切正常" })).Status.Should().Be(200);
        var (_, after) = await _api.GetJsonAsync($"/v1/conversations/{keeper}");
        after.GetRawText().Should().Be(before.GetRawText(), "no malformed request may touch another user's conversation");
        var (status3, third) = await _api.PostJsonAsync($"/v1/conversations/{keeper}/messages", new { content = "继续" });
        status3.Should().Be(200);
        third.GetProperty("turn").GetInt32().Should().Be(3);
    }

    /// <summary>The problem detail, or OpenAI's error message; null when the body is not such JSON.</summary>
    private static string? MessageOf(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.TryGetProperty("detail", out var detail) && detail.GetString() is { Length: > 0 } d) return d;
            if (root.TryGetProperty("error", out var error) && error.TryGetProperty("message", out var m) && m.GetString() is { Length: > 0 } e) return e;
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private const string Sentiment = "/v1/sentiment";
    private const string Messages = "/v1/conversations/hostile-user/messages";
    private const string Completions = "/v1/chat/completions";

    private IEnumerable<Hostile> Cases()
    {
        // Bodies that are not a JSON object at all, on every POST endpoint.
        string[] notObjects = ["", "{", "}", "{\"text\":}", "{'text':'x'}", "{\"text\":\"x\",}", "{}x", "NaN", "Infinity", "[]", "[1,2]",
            "\"text\"", "42", "null", "true", "{\"text\" \"x\"}", "{\"text\":\"x\"", "\u0000", "{\"a\":01}", "{\"a\":.5}", "{\"a\":+1}",
            "{\"a\":\"\\x41\"}", "{\"a\":tru}"];
        foreach (string path in (string[])[Sentiment, Messages, Completions])
        {
            foreach (string body in notObjects) yield return Raw(path, body, body.Length == 0 ? "empty" : body is "[]" or "[1,2]" or "\"text\"" or "42" or "null" or "true" ? "JSON object" : "JSON");
            foreach (int depth in (int[])[17, 64, 1000, 100_000])
                yield return Raw(path, "{\"a\":" + new string('[', depth) + new string(']', depth) + "}", "depth");
            yield return Bytes(path, "10 MB", Encoding.UTF8.GetBytes("{\"text\":\"" + new string('a', 10 * 1024 * 1024) + "\"}"), "limit", 413);
            yield return Chunked(path, 10 * 1024 * 1024);
            foreach (var (name, bytes) in InvalidUtf8()) yield return Bytes(path, name, bytes, "UTF-8", 400);
            foreach (string type in (string[])["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                         "application/json; charset=utf-16", "application/json; charset=latin1"])
                yield return Typed(path, type, "{\"text\":\"x\"}", type.StartsWith("application/json", StringComparison.Ordinal) ? "charset" : "Content-Type", 415);
            yield return Raw(path, "{\"surprise\":1}", "unknown field");
        }

        // Sentiment: wrong types, missing and empty fields, batch bounds.
        foreach (var (body, expect) in (IEnumerable<(string, string)>)
                 [
                     ("{}", "required"), ("{\"text\":42}", "string"), ("{\"text\":true}", "string"), ("{\"text\":[]}", "string"),
                     ("{\"text\":{}}", "string"), ("{\"text\":\"\"}", "empty"), ("{\"text\":\"   \"}", "empty"), ("{\"text\":null}", "required"),
                     ("{\"text\":\"a\\u0000b\"}", "NUL"), ("{\"text\":\"a\\ud800b\"}", "surrogate"), ("{\"text\":\"a\\udc00\"}", "surrogate"),
                     ($"{{\"text\":\"{new string('字', 4001)}\"}}", "limit"), ("{\"texts\":1}", "array"), ("{\"texts\":[]}", "empty"),
                     ("{\"texts\":[1]}", "string"), ("{\"texts\":[\"\"]}", "empty"), ("{\"texts\":[\"a\",null]}", "string"),
                     ("{\"texts\":\"a\"}", "array"), ("{\"text\":\"a\",\"texts\":[\"b\"]}", "not both"),
                     ($"{{\"texts\":[{string.Join(",", Enumerable.Repeat("\"a\"", 33))}]}}", "at most"), ("{\"Text\":\"a\"}", "unknown field"),
                 ])
            yield return Raw(Sentiment, body, expect);

        // Reply parameters out of range, on both chat endpoints.
        foreach (var (field, value, expect) in BadParameters())
        {
            yield return Raw(Messages, $"{{\"content\":\"hi\",\"{field}\":{value}}}", expect);
            yield return Raw(Completions, $"{{\"model\":\"qwen-aio\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"{field}\":{value}}}", expect);
        }
        foreach (var (body, expect) in (IEnumerable<(string, string)>)
                 [
                     ("{}", "required"), ("{\"content\":7}", "string"), ("{\"content\":\"\"}", "empty"), ("{\"content\":[\"hi\"]}", "string"),
                     ($"{{\"content\":\"{new string('a', 4001)}\"}}", "limit"), ("{\"content\":\"hi\",\"stream\":\"yes\"}", "boolean"),
                     ("{\"content\":\"hi\",\"stream\":1}", "boolean"), ("{\"content\":\"hi\",\"model\":\"x\"}", "unknown field"),
                 ])
            yield return Raw(Messages, body, expect);

        // Chat completions: messages, model and OpenAI options this service does not take.
        string user = "{\"role\":\"user\",\"content\":\"hi\"}";
        foreach (var (body, expect) in (IEnumerable<(string, string)>)
                 [
                     ("{\"messages\":[" + user + "]}", "model"), ("{\"model\":1,\"messages\":[" + user + "]}", "string"),
                     ("{\"model\":\"gpt-4\",\"messages\":[" + user + "]}", "does not exist"), ("{\"model\":\"qwen-aio\"}", "required"),
                     ("{\"model\":\"qwen-aio\",\"messages\":{}}", "array"), ("{\"model\":\"qwen-aio\",\"messages\":[]}", "empty"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[1]}", "object"), ("{\"model\":\"qwen-aio\",\"messages\":[{}]}", "role"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\"}]}", "content"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "role"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":7,\"content\":\"x\"}]}", "string"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":7}]}", "content"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "text parts"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}", "required"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"tool_calls\":[]}]}", "unknown field"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + ",{\"role\":\"assistant\",\"content\":\"x\"}]}", "last message"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "last message"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + string.Join(",", Enumerable.Repeat(user, 65)) + "]}", "at most"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "empty"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"n\":2}", "n"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"presence_penalty\":1}", "not supported"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"frequency_penalty\":-3}", "frequency_penalty"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"logprobs\":true}", "not supported"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"tools\":[]}", "unknown field"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"stream_options\":{\"include_usage\":true}}", "stream"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"stream\":true,\"stream_options\":{\"include_usage\":\"x\"}}", "boolean"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"stream\":true,\"stream_options\":{\"x\":1}}", "unknown field"),
                     ("{\"model\":\"qwen-aio\",\"messages\":[" + user + "],\"max_tokens\":5,\"max_completion_tokens\":6}", "disagree"),
                 ])
            yield return Raw(Completions, body, expect, expect == "does not exist" ? 404 : 400);
        foreach (string id in BadUserIds())
            yield return Raw(Completions, $"{{\"model\":\"qwen-aio\",\"messages\":[{user}],\"user\":{JsonSerializer.Serialize(id)}}}", "user id");

        // User ids with path tricks, on every conversation route, sent byte for byte. Kestrel removes dot segments
        // (plain or percent-encoded) before routing, so those paths name no conversation route: 404; the rest are bad ids: 400.
        foreach (string id in (string[])["..", "%2e%2e", "%2E%2E", ".%2e", "%2e%2e%2f%2e%2e%2fetc", "..%2f..%2fetc", "a%2Fb", "%E7%94%A8%E6%88%B7",
                     "a%20b", "%3Cscript%3E", "a;b", "~root", "a%252e%252e", new string('a', 129), new string('a', 1000), "a'b", "a%22b", "%ff%fe"])
        {
            int status = id is ".." or "%2e%2e" or "%2E%2E" or ".%2e" ? 404 : 400;
            yield return RawTarget("POST", $"/v1/conversations/{id}/messages", "{\"content\":\"hi\"}", status);
            yield return RawTarget("GET", $"/v1/conversations/{id}", null, status);
            yield return RawTarget("DELETE", $"/v1/conversations/{id}", null, status);
        }
        foreach (var (target, status) in (IEnumerable<(string, int)>)
                 [
                     ("/v1/conversations/../../etc/passwd", 404), ("/v1/conversations/../sentiment", 405),
                     ("/v1/conversations/%2e%2e/%2e%2e/healthz/messages", 404), ("/v1/conversations/a/b/c", 404), ("/v1/nothing", 404),
                     ("/v1/conversations//messages", 404), ("/v1/conversations/" + new string('a', 5000), 414),
                 ])
            yield return RawTarget("GET", target, null, status);

        // Header abuse and wrong methods.
        yield return Header(Sentiment, "X-Padding", new string('a', 100_000), "headers");
        yield return ManyHeaders(Sentiment, 200);
        yield return RawTarget("GET", "/v1/models?" + new string('q', 10_000), null, 414);
        foreach (var (method, path) in (IEnumerable<(string, string)>)[("GET", Sentiment), ("PUT", Sentiment), ("PATCH", Messages), ("GET", Completions), ("DELETE", "/v1/models")])
            yield return RawTarget(method, path, null, 405);
    }

    private static IEnumerable<(string Field, string Value, string Expect)> BadParameters()
    {
        foreach (string v in (string[])["0", "-1", "513", "1000000000", "1e400", "1.5", "-1e400", "99999999999999999999"])
            yield return ("max_tokens", v, "max_tokens");
        foreach (string v in (string[])["\"5\"", "true", "[5]", "{}"]) yield return ("max_tokens", v, "integer");
        foreach (string v in (string[])["-0.1", "2.01", "1e308", "-1e308", "1e999", "-1e999"]) yield return ("temperature", v, "temperature");
        foreach (string v in (string[])["\"NaN\"", "\"Infinity\"", "\"hot\"", "false", "[]"]) yield return ("temperature", v, "number");
        foreach (string v in (string[])["0", "1.01", "-0.5", "1e999"]) yield return ("top_p", v, "top_p");
        foreach (string v in (string[])["1.5", "1e30", "\"7\"", "-1e400"]) yield return ("seed", v, "seed");
        foreach (string v in (string[])["1", "[1]", "[\"\"]", "[\"a\",\"b\",\"c\",\"d\",\"e\"]", "{}", $"\"{new string('s', 65)}\"", "[\"a\\u0000\"]"])
            yield return ("stop", v, "stop");
    }

    private static IEnumerable<string> BadUserIds() =>
        ["", "../etc", "a/b", "%2e%2e", "用户", "a b", new string('u', 129), new string('u', 5000), "a\u0000b", "\u2028"];

    private static IEnumerable<(string Name, byte[] Bytes)> InvalidUtf8()
    {
        byte[][] sequences = [[0xFF], [0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE4, 0xBD], [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80]];
        foreach (byte[] bad in sequences)
        {
            string hex = Convert.ToHexString(bad);
            yield return ($"invalid UTF-8 {hex} in a value", [.. "{\"text\":\"a"u8.ToArray(), .. bad, .. "\"}"u8.ToArray()]);
            yield return ($"invalid UTF-8 {hex} in a key", [.. "{\""u8.ToArray(), .. bad, .. "\":\"a\"}"u8.ToArray()]);
        }
    }

    private Hostile Raw(string path, string body, string expect, int status = 400) => Typed(path, "application/json", body, expect, status);

    private Hostile Typed(string path, string contentType, string body, string expect, int status = 400) =>
        new($"POST {path} [{contentType}] {Shorten(body)}", async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _api.Url + path) { Content = new StringContent(body, Encoding.UTF8) };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            return await SendAsync(request);
        }, expect, status);

    private Hostile Bytes(string path, string name, byte[] body, string expect, int status) =>
        new($"POST {path} {name}", async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _api.Url + path) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return await SendAsync(request);
        }, expect, status);

    /// <summary>A body sent without a length, chunk by chunk, so the server cannot refuse it from the header alone.</summary>
    private Hostile Chunked(string path, int bytes) =>
        new($"POST {path} chunked {bytes} bytes", async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _api.Url + path)
            {
                Content = new StreamContent(new UnknownLengthStream(bytes)),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TransferEncodingChunked = true;
            return await SendAsync(request);
        }, "limit", 413);

    private Hostile Header(string path, string name, string value, string expect) =>
        new($"POST {path} with a {value.Length}-byte header", async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _api.Url + path) { Content = new StringContent("{\"text\":\"x\"}", Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation(name, value);
            return await SendAsync(request);
        }, expect, 431);

    private Hostile ManyHeaders(string path, int count) =>
        new($"POST {path} with {count} headers", async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _api.Url + path) { Content = new StringContent("{\"text\":\"x\"}", Encoding.UTF8, "application/json") };
            for (int i = 0; i < count; i++) request.Headers.TryAddWithoutValidation($"X-H{i}", "v");
            return await SendAsync(request);
        }, "headers", 431);

    private Hostile RawTarget(string method, string target, string? body, int status) =>
        new($"{method} {Shorten(target)} (raw)", () => RawHttp.SendAsync(_api.Url, method, target,
            body is null ? null : ["Content-Type: application/json"], body is null ? null : Encoding.UTF8.GetBytes(body)), "", status);

    private async Task<(int, string)> SendAsync(HttpRequestMessage request)
    {
        using var response = await _api.Http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + $"…({text.Length} chars)";

    /// <summary>A readable stream of '{"text":"aaaa…' with no known length.</summary>
    private sealed class UnknownLengthStream(int length) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(count, length - _position);
            for (int i = 0; i < n; i++) buffer[offset + i] = _position + i < 9 ? (byte)"{\"text\":\""[_position + i] : (byte)'a';
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
