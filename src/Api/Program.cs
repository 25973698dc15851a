using Qwen.Api.Endpoints;
using Qwen.Api.Hosting;
using Qwen.Api.Observability;

var builder = WebApplication.CreateBuilder(args);
// Bodies above the API's own limit are drained and refused with 413; beyond this, Kestrel cuts the connection.
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 8 * 1024 * 1024);
builder.Services.AddQwenApi(builder.Configuration);
builder.Services.AddProblemDetails();
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(90));

var app = builder.Build();
// First, so every public request is measured with its final status and error body.
app.UseApiObservability();
// Anything unexpected still answers with a problem-details JSON body, never an empty 500.
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapPublicEndpoints();
app.MapGet("/healthz", () => Results.Ok(new { status = "up" }));
app.MapGet("/readyz", (IReadiness readiness) => readiness.IsReady(out string reason)
    ? Results.Ok(new { status = "ready", detail = reason })
    : Results.Json(new { status = "not ready", detail = reason }, statusCode: StatusCodes.Status503ServiceUnavailable));
await app.RunAsync();
