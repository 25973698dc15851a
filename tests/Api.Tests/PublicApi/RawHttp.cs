using System.Net.Sockets;
using System.Text;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// Sends a request byte for byte over a socket (HttpClient would normalize paths such as
/// <c>/a/../b</c> and refuse odd headers) and reads the status and body of the answer.
/// </summary>
public static class RawHttp
{
    public static async Task<(int Status, string Body)> SendAsync(string baseUrl, string method, string target,
        IEnumerable<string>? headers = null, byte[]? body = null)
    {
        var uri = new Uri(baseUrl);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        await using var stream = client.GetStream();
        var head = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n");
        foreach (string header in headers ?? []) head.Append(header).Append("\r\n");
        if (body is not null) head.Append($"Content-Length: {body.Length}\r\n");
        head.Append("\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()));
        if (body is not null) await stream.WriteAsync(body);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer).WaitAsync(TimeSpan.FromSeconds(60));
        return Parse(buffer.ToArray());
    }

    private static (int Status, string Body) Parse(byte[] response)
    {
        int end = response.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0) throw new InvalidDataException($"no complete response head in: {Encoding.Latin1.GetString(response[..Math.Min(response.Length, 300)])}");
        string[] lines = Encoding.Latin1.GetString(response, 0, end).Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        byte[] body = response[(end + 4)..];
        bool chunked = lines.Any(l => l.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && l.Contains("chunked", StringComparison.OrdinalIgnoreCase));
        return (status, Encoding.UTF8.GetString(chunked ? Dechunk(body) : body));
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
