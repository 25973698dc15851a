using Qwen.Cluster.Transport;
using Qwen.Grains;
using Qwen.Grains.Interfaces;
using Qwen.Silo.Hosting;

namespace Qwen.Silo.Http;

/// <summary>
/// Cold silos: grain calls are refused as unavailable (retry elsewhere) until the model is
/// loaded, and POST /silo/warmup starts loading it.
/// </summary>
public static class WarmupEndpoints
{
    /// <summary>Answers grain calls with 503 Unavailable while the model is not loaded.</summary>
    public static IApplicationBuilder UseColdSiloGate(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/silo") && !path.StartsWithSegments(SiloRoutes.Warmup)
            && !context.RequestServices.GetRequiredService<ModelHost>().IsLoaded)
        {
            var error = new GrainErrorBody(GrainErrorKind.Unavailable, "this silo is cold (its model is not loaded); retry on another silo");
            await Results.Json(error, TransportJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(context);
            return;
        }
        await next(context);
    });

    /// <summary>POST /silo/warmup: 200 when active, 202 while the model loads (poll again or watch membership).</summary>
    public static IEndpointRouteBuilder MapWarmupEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapPost(SiloRoutes.Warmup, (SiloLifecycle lifecycle, SiloIdentity identity) =>
        {
            if (lifecycle.IsActive) return Results.Ok(new { silo = identity.Id, status = "active" });
            _ = lifecycle.WarmUpAsync();
            return Results.Accepted(value: new { silo = identity.Id, status = "joining" });
        });
        return app;
    }
}
