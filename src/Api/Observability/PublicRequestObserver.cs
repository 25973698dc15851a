using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Qwen.Api.Hosting;

namespace Qwen.Api.Observability;

/// <summary>
/// Middleware that measures every public request: metrics by task and status, the recent
/// window for the dashboard's rates and percentiles, and the recent-errors list with each
/// failure's message. Operational paths (metrics, health, both dashboards) are left out.
/// </summary>
public sealed class PublicRequestObserver(ApiMetrics metrics, RequestWindow window, RecentErrors errors, TimeProvider time)
{
    private const int CapturedBytes = 4096;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (IsOperational(context.Request.Path))
        {
            await next(context);
            return;
        }
        long started = Stopwatch.GetTimestamp();
        var body = context.Response.Body;
        var capture = new ResponseCapture(body, CapturedBytes);
        context.Response.Body = capture;
        metrics.Started();
        int status = StatusCodes.Status500InternalServerError;
        try
        {
            await next(context);
            status = context.Response.StatusCode;
        }
        finally
        {
            await FlushCapturedAsync(context);
            context.Response.Body = body;
            // Named after the route matched on the way in (the endpoint is known only after routing ran).
            string task = TaskOf(context);
            var elapsed = Stopwatch.GetElapsedTime(started);
            // A client that went away before the answer gets 499, as proxies count it.
            if (context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted) status = RequestWindow.ClientClosedRequest;
            metrics.Finished(task, status, elapsed);
            window.Add(task, status, elapsed);
            // A hang-up is the client's choice, not a failure to show among the errors.
            if (RequestWindow.IsFailure(status))
            {
                errors.Add(new RecentErrors.RequestError(time.GetUtcNow(), context.Request.Method, context.Request.Path.Value ?? "", task, status,
                    DetailOf(capture.Head, status), context.Features.Get<RequestFingerprint>()?.Id ?? context.TraceIdentifier));
            }
        }
    }

    /// <summary>
    /// Writes out what a writer left buffered in the capture's pipe (the timeout middleware does):
    /// restoring the original body drops that pipe, and with it anything it still holds.
    /// </summary>
    private static async Task FlushCapturedAsync(HttpContext context)
    {
        try
        {
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The client went away, or the response is complete: nothing left to deliver.
        }
    }

    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/metrics") || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz")
        || path.StartsWithSegments("/dashboard") || path.StartsWithSegments(DashboardEndpoints.OrleansPath) || path.StartsWithSegments("/openapi")
        || path.StartsWithSegments(ClusterStatusEndpoint.Path)
        || path == "/favicon.ico";

    /// <summary>The task a request serves, named after its route (so new endpoints are counted without a list here).</summary>
    public static string TaskOf(HttpContext context)
    {
        // The exception handler clears the endpoint before writing its 500; it keeps the original one for us.
        var endpoint = context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
        string? route = (endpoint as RouteEndpoint)?.RoutePattern.RawText;
        string method = context.Request.Method;
        return (route, method) switch
        {
            (null, _) => "unmatched",
            // One route serves single texts and batches; batches take longer, so they are timed apart.
            ("/v1/sentiment", _) => context.Features.Get<RequestFingerprint>()?.Task == "sentiment.batch" ? "sentiment_batch" : "sentiment",
            ("/v1/conversations/{userId}/messages", _) => "chat",
            ("/v1/conversations/{userId}", "GET") => "history",
            ("/v1/conversations/{userId}", "DELETE") => "reset",
            ("/v1/chat/completions", _) => "chat_completions",
            ("/v1/models", _) => "models",
            _ => FromRoute(route),
        };
    }

    private static string FromRoute(string route)
    {
        var name = new StringBuilder();
        foreach (string segment in route.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment.StartsWith('{') || segment == "v1") continue;
            if (name.Length > 0) name.Append('_');
            foreach (char c in segment) name.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_');
        }
        return name.Length == 0 ? "root" : name.ToString();
    }

    /// <summary>The error's message: problem details' detail, OpenAI's error.message, or the start of the body.</summary>
    private static string DetailOf(ReadOnlySpan<byte> head, int status)
    {
        string text = Encoding.UTF8.GetString(head);
        try
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String) return Shorten(detail.GetString()!);
                if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object &&
                    error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                    return Shorten(message.GetString()!);
                if (root.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String) return Shorten(title.GetString()!);
            }
        }
        catch (JsonException)
        {
            // Not JSON (or cut at the capture limit): show the text itself.
        }
        return text.Length > 0 ? Shorten(text) : $"HTTP {status}";
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";
}
