namespace Qwen.Api.Endpoints;

/// <summary>Error responses of the OpenAI-compatible endpoints: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal static class OpenAiError
{
    public static object Body(int status, string message, string? param = null, string? code = null) => new
    {
        error = new
        {
            message,
            type = TypeOf(status),
            param,
            code = code ?? CodeOf(status),
        },
    };

    public static IResult Result(int status, string message, string? param = null, string? code = null, TimeSpan? retryAfter = null)
    {
        var result = Results.Json(Body(status, message, param, code), statusCode: status);
        return retryAfter is { } delay ? new ApiProblem.RetryAfterResult(result, delay) : result;
    }

    private static string TypeOf(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    private static string? CodeOf(int status) => status switch
    {
        401 => "invalid_api_key",
        413 => "request_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limit_exceeded",
        503 => "service_unavailable",
        504 => "timeout",
        _ => null,
    };
}
