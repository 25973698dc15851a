using System.Text.Json;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;
using Qwen.Api.Hosting;
using Qwen.Api.Observability;
using Qwen.Api.Scaling;
using Qwen.Api.Security;

// appsettings.json (log levels) sits beside the program, wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.WebHost.ConfigureKestrel(k =>
{
    // Bodies above the API's own limit are drained and refused with 413; beyond this, Kestrel cuts the connection.
    k.Limits.MaxRequestBodySize = 16 * 1024 * 1024;
    // Above the API's own header and URL limits, so that clients get a JSON reason (RequestShapeGuard).
    k.Limits.MaxRequestHeadersTotalSize = RequestShapeGuard.KestrelHeaderBytes;
    k.Limits.MaxRequestHeaderCount = RequestShapeGuard.KestrelHeaderCount;
    k.Limits.MaxRequestLineSize = RequestShapeGuard.KestrelRequestLineBytes;
});
builder.AddQwenApi();
builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
builder.Services.AddClientRateLimiting(builder.Configuration);
builder.Services.AddRequestTimeouts();
builder.Services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<ApiLimits>>((timeouts, limits) =>
{
    if (limits.Value.RequestTimeout <= TimeSpan.Zero) return;
    timeouts.DefaultPolicy = new RequestTimeoutPolicy
    {
        // A backstop: the deadline travels with the grain call and the silo answers at it (saying what it stopped);
        // this fires only if no answer comes back in time.
        Timeout = limits.Value.RequestTimeout + RequestDeadlineMiddleware.Grace,
        TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
        WriteTimeoutResponse = context => ApiErrors.For(context, StatusCodes.Status504GatewayTimeout,
            $"the request did not finish within {limits.Value.RequestTimeout.TotalSeconds:0.###} s").ExecuteAsync(context),
    };
});
builder.Services.AddOpenApi();
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(90));

var app = builder.Build();
app.UseMiddleware<RequestFingerprintMiddleware>();
// Next, so every public request is measured with its request id, final status and error body.
app.UseApiObservability();
app.UseChatPage();
// Anything unexpected still answers with a JSON error body, never an empty 500.
app.UseExceptionHandler(new ExceptionHandlerOptions
{
    ExceptionHandler = context => ApiErrors.For(context, StatusCodes.Status500InternalServerError, "an unexpected error occurred; the request id names it in the server log")
        .ExecuteAsync(context),
});
app.UseStatusCodePages(context => ApiErrors.For(context.HttpContext, context.HttpContext.Response.StatusCode,
    StatusMessages.For(context.HttpContext)).ExecuteAsync(context.HttpContext));
app.UseMiddleware<RequestShapeGuard>();
// Before anything else answers (the dashboards' files included): every request but health, readiness and the chat
// page's static files (served above; its calls carry the key the page asks for) needs a key.
app.UseApiKeys();
app.UseDashboard();
app.UseRequestLatencyRecording();
app.UseRouting();
app.UseRateLimiter();
app.UseRequestTimeouts();
app.UseMiddleware<RequestDeadlineMiddleware>();
app.MapPublicEndpoints();
app.MapClusterScaleEndpoints();
app.MapOpenApi("/openapi/{documentName}.json");
app.MapGet("/healthz", () => Results.Ok(new { status = "up" }));
app.MapGet("/readyz", (IReadiness readiness) => readiness.IsReady(out string reason)
    ? Results.Ok(new { status = "ready", detail = reason })
    : Results.Json(new { status = "not ready", detail = reason }, statusCode: StatusCodes.Status503ServiceUnavailable));
await app.RunAsync();
