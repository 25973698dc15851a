using System.Text;
using System.Text.Json.Nodes;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>One generated request: what kind of hostility it is, and its exact bytes.</summary>
public sealed record HostileRequest(string Kind, string Target, byte[] Bytes);

/// <summary>
/// A deterministic stream of hostile raw HTTP requests across every endpoint: bad framing, huge and deep
/// JSON, invalid UTF-8, header floods, wrong types, duplicate keys, odd request lines and random bytes.
/// Every request is complete as sent (its framing says where it ends), so the server always has enough to
/// answer; most fail validation quickly, a few happen to be valid and run on the model.
/// </summary>
public sealed class HostileRequests(int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>Endpoints and a valid body for each (null: no body).</summary>
    private static readonly (string Method, string Path, string? Body)[] Endpoints =
    [
        ("POST", "/v1/sentiment", "{\"text\":\"今天天气很好\"}"),
        ("POST", "/v1/sentiment", "{\"texts\":[\"今天天气很好\",\"太糟糕了\"]}"),
        ("POST", "/v1/conversations/fuzz-{n}/messages", "{\"content\":\"你好\",\"max_tokens\":2,\"temperature\":0.5,\"stop\":[\"x\"]}"),
        ("GET", "/v1/conversations/fuzz-{n}", null),
        ("DELETE", "/v1/conversations/fuzz-{n}", null),
        ("POST", "/v1/chat/completions",
            "{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2,\"stream\":false}"),
        ("POST", "/v1/chat/completions",
            "{\"model\":\"qwen-aio\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"user\":\"fuzz-{n}\",\"max_tokens\":2}"),
        ("GET", "/v1/models", null),
        ("GET", "/v1/models/qwen-aio", null),
        ("GET", "/v1/cluster/status", null),
        ("GET", "/v1/cluster/scale", null),
        ("GET", "/healthz", null),
        ("GET", "/readyz", null),
        ("GET", "/metrics", null),
        ("GET", "/dashboard", null),
        ("GET", "/openapi/v1.json", null),
        ("GET", "/orleans-dashboard", null),
        ("GET", "/", null),
    ];

    private static readonly string[] Kinds =
    [
        "wrong-type", "wrong-type", "wrong-type", "duplicate-key", "deep-json", "invalid-utf8", "invalid-utf8", "random-body",
        "bad-framing", "bad-framing", "bad-framing", "header-flood", "bad-header", "bad-content-type", "bad-path", "bad-method",
        "bad-request-line", "random-bytes", "odd-headers", "truncated-json",
    ];

    public IEnumerable<HostileRequest> Take(int count)
    {
        for (int i = 0; i < count; i++)
        {
            // A few huge bodies only (they cost time to send), spread through the run.
            string kind = i % 97 == 50 ? "huge-json" : Kinds[_random.Next(Kinds.Length)];
            yield return Make(kind, i);
        }
    }

    private HostileRequest Make(string kind, int n)
    {
        var (method, path, body) = Endpoints[_random.Next(Endpoints.Length)];
        path = path.Replace("{n}", (n % 7).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        body = body?.Replace("{n}", (n % 7).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        body ??= _random.Next(3) == 0 ? "{\"text\":\"x\"}" : null;
        var headers = new List<string> { "Content-Type: application/json" };
        byte[]? bytes = body is null ? null : Encoding.UTF8.GetBytes(body);
        switch (kind)
        {
            case "wrong-type":
                bytes = Encoding.UTF8.GetBytes(WithWrongType(body ?? "{}"));
                break;
            case "duplicate-key":
                bytes = Encoding.UTF8.GetBytes((body ?? "{\"a\":1}").TrimEnd('}') + "," + (body ?? "{\"a\":1}")[1..]);
                break;
            case "deep-json":
                int depth = _random.Next(17, 60_000);
                bytes = Encoding.UTF8.GetBytes("{\"text\":" + Nest(depth) + "}");
                break;
            case "huge-json":
                bytes = Encoding.UTF8.GetBytes("{\"text\":\"" + new string('长', _random.Next(400_000, 700_000)) + "\"}");
                break;
            case "invalid-utf8":
                bytes = WithInvalidUtf8(bytes ?? "{\"text\":\"x\"}"u8.ToArray());
                break;
            case "random-body":
                bytes = RandomBytes(_random.Next(1, 4096));
                break;
            case "truncated-json":
                bytes = (bytes ?? "{\"text\":\"xyz\"}"u8.ToArray())[..Math.Max(1, (bytes?.Length ?? 14) - _random.Next(1, 6))];
                break;
            case "bad-framing":
                return Framed(kind, method, path, headers, bytes ?? "{\"text\":\"x\"}"u8.ToArray());
            case "header-flood":
                if (_random.Next(2) == 0)
                    headers.AddRange(Enumerable.Range(0, _random.Next(101, 900)).Select(i => $"X-Flood-{i}: {new string('f', _random.Next(1, 40))}"));
                else
                    headers.Add($"X-Flood: {new string('f', _random.Next(33 * 1024, 900 * 1024))}");
                break;
            case "bad-header":
                headers.Add(_random.Next(4) switch
                {
                    0 => "Idempotency-Key: " + new string('k', _random.Next(129, 2000)),
                    1 => "X-Request-Timeout-Ms: " + (_random.Next(3) switch { 0 => "-5", 1 => "1e9", _ => "99999999999999999999" }),
                    2 => "X-Request-Id: " + Latin1Noise(_random.Next(1, 200)),
                    _ => "Authorization: Bearer " + Latin1Noise(_random.Next(1, 300)),
                });
                break;
            case "bad-content-type":
                headers[0] = "Content-Type: " + (_random.Next(5) switch
                {
                    0 => "text/plain",
                    1 => "application/json; charset=utf-32",
                    2 => "application/json; charset=\"",
                    3 => ";;;" + Latin1Noise(20),
                    _ => "multipart/form-data; boundary=" + new string('-', 70),
                });
                break;
            case "bad-path":
                path = _random.Next(4) switch
                {
                    0 => "/v1/conversations/" + Uri.EscapeDataString(Latin1Noise(_random.Next(1, 300))) + "/messages",
                    1 => "/v1/conversations/" + new string('%', _random.Next(1, 10)) + "zz",
                    2 => path + "/" + string.Concat(Enumerable.Repeat("../", _random.Next(1, 50))),
                    _ => "/v1/" + new string('a', _random.Next(4000, 9000)),
                };
                break;
            case "bad-method":
                method = (string[])["PUT", "PATCH", "OPTIONS", "TRACE", "HEAD", "PROPFIND", "CONNECT", "QWEN"] is var methods ? methods[_random.Next(methods.Length)] : method;
                break;
            case "bad-request-line":
                return Raw(kind, path, _random.Next(5) switch
                {
                    0 => $"{method} {path} HTTP/9.9\r\nHost: x\r\n\r\n",
                    1 => $"{method}  {path}  HTTP/1.1\r\nHost: x\r\n\r\n",
                    2 => $"{method} {path}\r\nHost: x\r\n\r\n",
                    3 => $"{method} http://elsewhere{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    _ => $"{method} {path}\u0001 HTTP/1.1\r\nHost: x\r\n\r\n",
                });
            case "random-bytes":
                return new HostileRequest(kind, "-", [.. RandomBytes(_random.Next(1, 2048)), .. "\r\n\r\n"u8.ToArray()]);
            case "odd-headers":
                headers.Add(_random.Next(5) switch
                {
                    0 => "Content-Length: 5",
                    1 => "Host: second",
                    2 => "X-Odd:" + new string(' ', 1000),
                    3 => "Expect: 100-continue",
                    _ => "Content-Encoding: gzip",
                });
                break;
        }
        return Plain(kind, method, path, headers, bytes);
    }

    private HostileRequest Plain(string kind, string method, string path, List<string> headers, byte[]? body)
    {
        // "odd-headers" may have set its own Content-Length: then it is given twice, which Kestrel refuses.
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        foreach (string header in headers) head.Append(header).Append("\r\n");
        head.Append($"Content-Length: {body?.Length ?? 0}\r\n\r\n");
        return new HostileRequest(kind, $"{method} {Short(path)}", [.. Encoding.Latin1.GetBytes(head.ToString()), .. body ?? []]);
    }

    private HostileRequest Framed(string kind, string method, string path, List<string> headers, byte[] body)
    {
        string hex = body.Length.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        string text = Encoding.UTF8.GetString(body);
        var (framing, payload) = _random.Next(9) switch
        {
            0 => ("Transfer-Encoding: chunked", $"ZZ\r\n{text}\r\n0\r\n\r\n"),
            1 => ("Transfer-Encoding: chunked", $"FFFFFFFFFFFFFFFFFF\r\n{text}\r\n0\r\n\r\n"),
            2 => ($"Transfer-Encoding: gzip, chunked\r\nContent-Length: {body.Length}", $"{hex}\r\n{text}\r\n0\r\n\r\n"),
            3 => ("Transfer-Encoding: chunked", $"{hex};{Latin1Noise(8)}\r\n{text}\r\n0\r\n\r\n"),
            4 => ("Transfer-Encoding: chunked", $"{hex}\r\n{text}XX0\r\n\r\n"),
            5 => ($"Content-Length: {body.Length}\r\nContent-Length: {body.Length + 1}", text),
            6 => ("Content-Length: -1", text),
            7 => ("Content-Length: 1e3", text),
            _ => ("Transfer-Encoding: identity", text),
        };
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        foreach (string header in headers) head.Append(header).Append("\r\n");
        head.Append(framing).Append("\r\n\r\n");
        return new HostileRequest(kind, $"{method} {Short(path)}", [.. Encoding.Latin1.GetBytes(head.ToString()), .. Encoding.UTF8.GetBytes(payload)]);
    }

    private static HostileRequest Raw(string kind, string path, string request) => new(kind, Short(path), Encoding.Latin1.GetBytes(request));

    private string WithWrongType(string json)
    {
        if (JsonNode.Parse(json) is not JsonObject root || root.Count == 0) return json;
        var target = root;
        // Sometimes one level down, into the first message.
        if (root["messages"] is JsonArray { Count: > 0 } messages && messages[0] is JsonObject first && _random.Next(2) == 0) target = first;
        string key = _random.Next(6) == 0 ? "unexpected_" + _random.Next(100) : target.ElementAt(_random.Next(target.Count)).Key;
        target[key] = RandomValue();
        return root.ToJsonString();
    }

    private JsonNode? RandomValue() => _random.Next(12) switch
    {
        0 => null,
        1 => JsonValue.Create(_random.Next(2) == 0),
        2 => JsonValue.Create(-_random.NextInt64()),
        3 => JsonNode.Parse("1e999"),
        4 => JsonValue.Create(_random.NextDouble() * 1e300),
        5 => new JsonArray(JsonValue.Create("a"), JsonValue.Create(1), null),
        6 => new JsonObject { ["text"] = "x" },
        7 => JsonValue.Create(new string('x', _random.Next(4000, 40_000))),
        8 => JsonValue.Create("\u0000\ud800"),
        9 => JsonValue.Create(""),
        10 => JsonValue.Create(_random.Next(int.MinValue, int.MaxValue)),
        _ => JsonValue.Create(Latin1Noise(20)),
    };

    private string Nest(int depth)
    {
        bool arrays = _random.Next(2) == 0;
        var text = new StringBuilder(depth * 7);
        for (int i = 0; i < depth; i++) text.Append(arrays ? "[" : "{\"a\":");
        text.Append('1');
        for (int i = 0; i < depth; i++) text.Append(arrays ? ']' : '}');
        return text.ToString();
    }

    private byte[] WithInvalidUtf8(byte[] body)
    {
        byte[][] bad = [[0xFF], [0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE4, 0xBD], [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xF4, 0x90, 0x80, 0x80]];
        int at = _random.Next(1, Math.Max(2, body.Length - 1));
        return [.. body[..at], .. bad[_random.Next(bad.Length)], .. body[at..]];
    }

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Printable Latin-1 noise (no CR or LF, so it stays inside its header or path).</summary>
    private string Latin1Noise(int length) =>
        new([.. Enumerable.Range(0, length).Select(_ => (char)_random.Next(0x20, 0x100)).Select(c => c == '\u007f' ? '?' : c)]);

    private static string Short(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
