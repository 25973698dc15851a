namespace Qwen.Api.Endpoints;

/// <summary>
/// A request the Api refuses before calling any grain: its status, a message that says exactly
/// what is wrong, and the offending field (OpenAI's <c>param</c>) when there is one.
/// </summary>
internal sealed class RequestRejectedException(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static RequestRejectedException BadRequest(string message, string? param = null) =>
        new(StatusCodes.Status400BadRequest, message, param);
}
