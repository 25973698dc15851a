using System.Globalization;
using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;

namespace Qwen.Api.Hosting;

/// <summary>
/// The deadline of one public request: <see cref="ApiLimits.RequestTimeout"/> from its arrival,
/// or sooner when the client asks with <see cref="Header"/>. Endpoints put it in the grain
/// requests, so it reaches the silo and the model batch: past it the request leaves the batch
/// and the client gets 504.
/// </summary>
public sealed record RequestDeadline(DateTimeOffset At, TimeSpan Timeout)
{
    /// <summary>Request header: the client's own timeout in whole milliseconds (1 to <c>Api:RequestTimeout</c>).</summary>
    public const string Header = "X-Request-Timeout-Ms";

    /// <summary>The current request's deadline; null when it has none (no timeout configured and none asked for).</summary>
    public static DateTimeOffset? Of(HttpContext context) => context.Features.Get<RequestDeadline>()?.At;
}

/// <summary>
/// Sets each /v1 request's <see cref="RequestDeadline"/> (a bad header is 400). The request
/// timeouts middleware ends a request at <c>Api:RequestTimeout</c>; a shorter client timeout gets a
/// backstop here too, a little after the deadline, so the Api answers 504 even if a silo never does.
/// </summary>
internal sealed class RequestDeadlineMiddleware(RequestDelegate next, IOptionsMonitor<ApiLimits> limits)
{
    // The silos answer at the deadline itself; this margin covers the way back.
    internal static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Longest = TimeSpan.FromDays(1);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/v1"))
        {
            await next(context);
            return;
        }
        var configured = limits.CurrentValue.RequestTimeout;
        TimeSpan? timeout = configured > TimeSpan.Zero ? configured : null;
        string? asked = context.Request.Headers[RequestDeadline.Header];
        if (asked is not null)
        {
            long max = (long)(timeout ?? Longest).TotalMilliseconds;
            if (!long.TryParse(asked, NumberStyles.None, CultureInfo.InvariantCulture, out long ms) || ms < 1 || ms > max)
            {
                await ApiErrors.For(context, StatusCodes.Status400BadRequest,
                    $"the header {RequestDeadline.Header} must be a whole number of milliseconds in [1, {max}] but was '{Shorten(asked)}'",
                    RequestDeadline.Header).ExecuteAsync(context);
                return;
            }
            timeout = TimeSpan.FromMilliseconds(ms);
        }
        if (timeout is not { } limit)
        {
            await next(context);
            return;
        }
        context.Features.Set(new RequestDeadline(DateTimeOffset.UtcNow + limit, limit));
        if (asked is null)
        {
            await next(context); // the request timeouts middleware is the backstop
            return;
        }
        var aborted = context.RequestAborted;
        using var backstop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        backstop.CancelAfter(limit + Grace);
        context.RequestAborted = backstop.Token;
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (backstop.IsCancellationRequested && !aborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            await ApiErrors.For(context, StatusCodes.Status504GatewayTimeout,
                $"the request did not finish within its timeout of {limit.TotalMilliseconds:0} ms").ExecuteAsync(context);
        }
        finally
        {
            context.RequestAborted = aborted;
        }
    }

    private static string Shorten(string text) => text.Length <= 32 ? text : text[..32] + "…";
}
