using Qwen.Api.Cluster;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Endpoints;

/// <summary>
/// One error, written in the style of the endpoint family the request was for: OpenAI's error
/// JSON under /v1/chat and /v1/models, RFC 7807 problem details everywhere else.
/// </summary>
internal static class ApiErrors
{
    public static bool UsesOpenAiErrors(PathString path) =>
        path.StartsWithSegments("/v1/chat") || path.StartsWithSegments("/v1/models");

    public static IResult For(HttpContext context, int status, string message, string? param = null, string? code = null,
        TimeSpan? retryAfter = null) =>
        UsesOpenAiErrors(context.Request.Path)
            ? OpenAiError.Result(status, message, param, code, retryAfter)
            : ApiProblem.Problem(context, status, message, retryAfter);

    public static IResult For(HttpContext context, RequestRejectedException e) => For(context, e.Status, e.Message, e.Param, e.Code);

    public static IResult For(HttpContext context, GrainCallException e)
    {
        var (status, retryAfter) = StatusOf(e.Kind);
        return For(context, status, e.Message, retryAfter: retryAfter);
    }

    public static (int Status, TimeSpan? RetryAfter) StatusOf(GrainErrorKind kind) => kind switch
    {
        GrainErrorKind.InvalidRequest => (StatusCodes.Status400BadRequest, null),
        GrainErrorKind.Overloaded => (StatusCodes.Status429TooManyRequests, TimeSpan.FromSeconds(1)),
        GrainErrorKind.Timeout => (StatusCodes.Status504GatewayTimeout, null),
        _ => (StatusCodes.Status503ServiceUnavailable, TimeSpan.FromSeconds(2)),
    };

    /// <summary>Runs an endpoint body, turning refusals and grain failures into error responses.</summary>
    public static async Task<IResult> Guard(HttpContext context, Func<Task<IResult>> handler)
    {
        // With no active silo (none started yet, all cold or gone) no grain call can succeed: say so rather than try.
        if (context.RequestServices.GetService<SiloDirectory>() is { FirstRefresh.IsCompleted: true, Candidates.Count: 0 })
            return For(context, StatusCodes.Status503ServiceUnavailable, "no silo with a loaded model is active in the cluster; retry shortly",
                retryAfter: TimeSpan.FromSeconds(2));
        try
        {
            return await handler();
        }
        catch (RequestRejectedException e)
        {
            return For(context, e);
        }
        catch (GrainCallException e)
        {
            return For(context, e);
        }
        catch (Exception e) when (IsSiloLost(e))
        {
            // The silo serving the call died, left or could not be reached: the client may retry (with its Idempotency-Key).
            return For(context, StatusCodes.Status503ServiceUnavailable, $"the silo serving this request became unavailable; retry: {e.Message}",
                retryAfter: TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Orleans could not deliver the call or its answer (silo gone, connection lost, no answer in time).</summary>
    public static bool IsSiloLost(Exception e) =>
        e is OrleansMessageRejectionException or Orleans.Runtime.Messaging.ConnectionFailedException or ClientNotAvailableException or TimeoutException;
}
