using System.Net.Sockets;
using System.Text;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>What came back for bytes sent as they are: the status line's code, the header lines and the body.</summary>
public sealed record RawResponse(int Status, IReadOnlyList<string> Headers, string Body)
{
    /// <summary>The value of the first header named <paramref name="name"/>, or null.</summary>
    public string? Header(string name) =>
        Headers.Where(h => h.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)).Select(h => h[(name.Length + 1)..].Trim()).FirstOrDefault();
}

/// <summary>
/// Sends a request byte for byte over a socket (HttpClient would normalize paths such as
/// <c>/a/../b</c>, refuse odd headers and fix bad framing) and reads the answer until the server
/// closes. Reading runs while writing, so an answer the server sends before it has read the whole
/// request (then closing) is not lost.
/// </summary>
public static class RawHttp
{
    public static async Task<(int Status, string Body)> SendAsync(string baseUrl, string method, string target,
        IEnumerable<string>? headers = null, byte[]? body = null)
    {
        var head = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: {new Uri(baseUrl).Authority}\r\nConnection: close\r\n");
        foreach (string header in headers ?? []) head.Append(header).Append("\r\n");
        if (body is not null) head.Append($"Content-Length: {body.Length}\r\n");
        var response = await ExchangeAsync(baseUrl, Request(head.ToString(), body), TimeSpan.FromSeconds(60))
            ?? throw new InvalidDataException($"no answer to {method} {target}");
        return (response.Status, response.Body);
    }

    /// <summary>The answer, or null when the server closed the connection (or went silent until <paramref name="timeout"/>) without one.</summary>
    public static async Task<RawResponse?> ExchangeAsync(string baseUrl, ReadOnlyMemory<byte> request, TimeSpan timeout)
    {
        var uri = new Uri(baseUrl);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        await using var stream = client.GetStream();
        using var silence = new CancellationTokenSource(timeout);
        var reading = ReadToEndAsync(stream, silence.Token);
        try
        {
            await stream.WriteAsync(request, silence.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The server answered and closed before it read everything: the answer is still on its way in.
        }
        byte[] received = await reading;
        return Parse(received);
    }

    /// <summary>Sends the start of a request and hangs up, as a client that goes away mid-body.</summary>
    public static async Task HangUpAfterAsync(string baseUrl, ReadOnlyMemory<byte> start)
    {
        var uri = new Uri(baseUrl);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        await using var stream = client.GetStream();
        await stream.WriteAsync(start);
        await stream.FlushAsync();
        // A reset, not a polite close: the client is gone.
        client.Client.LingerState = new LingerOption(true, 0);
    }

    /// <summary>A request head (CRLF line ends, the blank line added) followed by <paramref name="body"/>.</summary>
    public static byte[] Request(string head, byte[]? body = null) =>
        [.. Encoding.Latin1.GetBytes(head.ReplaceLineEndings("\r\n").TrimEnd('\r', '\n') + "\r\n\r\n"), .. body ?? []];

    private static async Task<byte[]> ReadToEndAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
            {
                buffer.Write(chunk, 0, read);
                // A complete answer on a connection the server keeps open (no "Connection: close" sent) ends here.
                if (IsComplete(buffer.GetBuffer().AsSpan(0, (int)buffer.Length))) break;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // A reset or silence ends the answer; what arrived before counts.
        }
        return buffer.ToArray();
    }

    /// <summary>Whether <paramref name="data"/> holds a whole final answer: its head, and all of a body its head gives the length of.</summary>
    private static bool IsComplete(ReadOnlySpan<byte> data)
    {
        while (true)
        {
            int end = data.IndexOf("\r\n\r\n"u8);
            if (end < 0) return false;
            string head = Encoding.Latin1.GetString(data[..end]);
            var body = data[(end + 4)..];
            if (head.Length > 9 && head[9] == '1')
            {
                data = body; // an interim 1xx answer; the final one follows
                continue;
            }
            string[] lines = head.Split("\r\n");
            if (lines.Any(l => l.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase)))
                return body.EndsWith("0\r\n\r\n"u8);
            string? length = lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            return length is not null && int.TryParse(length["Content-Length:".Length..].Trim(), out int n) && body.Length >= n;
        }
    }

    private static RawResponse? Parse(byte[] response)
    {
        int end = response.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0) return null;
        string[] lines = Encoding.Latin1.GetString(response, 0, end).Split("\r\n");
        string[] statusLine = lines[0].Split(' ');
        if (statusLine.Length < 2 || !int.TryParse(statusLine[1], System.Globalization.CultureInfo.InvariantCulture, out int status)) return null;
        byte[] body = response[(end + 4)..];
        // An interim answer (100 Continue) comes before the real one.
        if (status is >= 100 and < 200) return Parse(body);
        bool chunked = lines.Any(l => l.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && l.Contains("chunked", StringComparison.OrdinalIgnoreCase));
        return new RawResponse(status, lines[1..], Encoding.UTF8.GetString(chunked ? Dechunk(body) : body));
    }

    private static byte[] Dechunk(byte[] body)
    {
        using var result = new MemoryStream();
        int at = 0;
        while (at < body.Length)
        {
            int lineEnd = body.AsSpan(at).IndexOf("\r\n"u8);
            if (lineEnd < 0) break;
            int size = Convert.ToInt32(Encoding.ASCII.GetString(body, at, lineEnd).Split(';')[0].Trim(), 16);
            if (size == 0) break;
            int start = at + lineEnd + 2;
            result.Write(body, start, Math.Min(size, body.Length - start));
            at = start + size + 2;
        }
        return result.ToArray();
    }
}
