using Qwen.Api.Hosting;

namespace Qwen.Api.Endpoints;

/// <summary>Error responses of the task endpoints: RFC 7807 problem details with a precise detail and the request id.</summary>
internal static class ApiProblem
{
    public static IResult Problem(HttpContext context, int status, string detail, TimeSpan? retryAfter = null)
    {
        var extensions = new Dictionary<string, object?>();
        if (context.Features.Get<RequestFingerprint>() is { } fingerprint) extensions["request_id"] = fingerprint.Id;
        var result = Results.Problem(detail: detail, statusCode: status, title: TitleOf(status), extensions: extensions);
        return retryAfter is { } delay ? new RetryAfterResult(result, delay) : result;
    }

    public static string TitleOf(int status) => status switch
    {
        400 => "Invalid request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        408 => "Request timeout",
        413 => "Request too large",
        414 => "URL too long",
        415 => "Unsupported media type",
        429 => "Too many requests",
        431 => "Request headers too large",
        503 => "Unavailable",
        504 => "Timed out",
        _ when status >= 500 => "Server error",
        _ => "Request refused",
    };

    /// <summary>Sets Retry-After (whole seconds, at least 1) before the inner result writes the response.</summary>
    public sealed class RetryAfterResult(IResult inner, TimeSpan delay) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
