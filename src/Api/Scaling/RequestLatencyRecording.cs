using System.Diagnostics;

namespace Qwen.Api.Scaling;

/// <summary>Times the model requests the SLO is about (chat turns, chat completions, sentiment) for the autoscaling signal.</summary>
public static class RequestLatencyRecording
{
    public static IApplicationBuilder UseRequestLatencyRecording(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var window = context.RequestServices.GetService<RequestLatencyWindow>();
        if (window is null || !HttpMethods.IsPost(context.Request.Method) || !IsModelRequest(context.Request.Path))
        {
            await next(context);
            return;
        }
        long started = Stopwatch.GetTimestamp();
        await next(context);
        // Served requests only: quick refusals (4xx, 429) would make the cluster look faster than it is.
        if (context.Response.StatusCode is >= 200 and < 300) window.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    });

    private static bool IsModelRequest(PathString path) =>
        path.Equals("/v1/sentiment", StringComparison.Ordinal)
        || path.Equals("/v1/chat/completions", StringComparison.Ordinal)
        || (path.StartsWithSegments("/v1/conversations", StringComparison.Ordinal)
            && path.Value!.EndsWith("/messages", StringComparison.Ordinal));
}
