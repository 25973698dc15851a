using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;

namespace Qwen.Api.Hosting;

/// <summary>
/// Refuses requests with too many or too large headers (431) or an overlong URL (414) with a JSON
/// message. Kestrel's own limits are set well above these, so the client hears why; requests
/// beyond Kestrel's limits are cut off by Kestrel itself.
/// </summary>
internal sealed class RequestShapeGuard(RequestDelegate next, IOptionsMonitor<ApiLimits> limits)
{
    public Task InvokeAsync(HttpContext context)
    {
        var options = limits.CurrentValue;
        var request = context.Request;
        int urlChars = request.Path.Value?.Length + request.QueryString.Value?.Length ?? 0;
        if (urlChars > options.MaxUrlChars)
            return Refuse(context, StatusCodes.Status414UriTooLong, $"the URL has {urlChars} characters; at most {options.MaxUrlChars} are allowed");
        if (request.Headers.Count > options.MaxHeaderCount)
            return Refuse(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, $"the request has {request.Headers.Count} headers; at most {options.MaxHeaderCount} are allowed");
        long headerBytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            headerBytes += name.Length + 4;
            foreach (string? value in values) headerBytes += value?.Length ?? 0;
        }
        if (headerBytes > options.MaxHeaderBytes)
            return Refuse(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, $"the request headers have {headerBytes} bytes; at most {options.MaxHeaderBytes} are allowed");
        if (FramingProblem(request) is { } problem) return Refuse(context, StatusCodes.Status400BadRequest, problem);
        return next(context);
    }

    /// <summary>
    /// A transfer coding other than chunked is refused: Kestrel removes only "chunked", so a gzip coding would reach the
    /// JSON reader still compressed. (With Transfer-Encoding present Kestrel has already dropped any Content-Length, as
    /// RFC 9112 says, and closes the connection after the answer, so a second framing cannot smuggle a request.)
    /// </summary>
    private static string? FramingProblem(HttpRequest request)
    {
        var transfer = request.Headers.TransferEncoding;
        if (transfer.Count == 0) return null;
        string codings = Shorten(transfer.ToString());
        return codings.Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase)
            ? null
            : $"the transfer coding '{codings}' is not supported; send the body with Content-Length or Transfer-Encoding: chunked";
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    private static Task Refuse(HttpContext context, int status, string message) =>
        ApiErrors.For(context, status, message).ExecuteAsync(context);

    /// <summary>Kestrel limits above the guard's, so the guard (not a bare connection error) answers.</summary>
    public const int KestrelHeaderBytes = 1024 * 1024;
    public const int KestrelHeaderCount = 1000;
    public const int KestrelRequestLineBytes = 64 * 1024;
}
