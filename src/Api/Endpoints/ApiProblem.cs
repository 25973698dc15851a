using Qwen.Grains.Interfaces;

namespace Qwen.Api.Endpoints;

/// <summary>Error responses of the public API: RFC 7807 problem details with a precise detail.</summary>
internal static class ApiProblem
{
    public static IResult BadRequest(string detail) => Problem(StatusCodes.Status400BadRequest, "Invalid request", detail);

    public static IResult Problem(int status, string title, string detail, TimeSpan? retryAfter = null)
    {
        var result = Results.Problem(detail: detail, statusCode: status, title: title);
        return retryAfter is { } delay ? new RetryAfterResult(result, delay) : result;
    }

    public static IResult FromGrainError(GrainCallException e) => e.Kind switch
    {
        GrainErrorKind.InvalidRequest => BadRequest(e.Message),
        GrainErrorKind.Overloaded => Problem(StatusCodes.Status429TooManyRequests, "Overloaded", e.Message, TimeSpan.FromSeconds(1)),
        GrainErrorKind.Timeout => Problem(StatusCodes.Status504GatewayTimeout, "Timed out", e.Message),
        _ => Problem(StatusCodes.Status503ServiceUnavailable, "Unavailable", e.Message, TimeSpan.FromSeconds(2)),
    };

    private sealed class RetryAfterResult(IResult inner, TimeSpan delay) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
