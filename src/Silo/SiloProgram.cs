using Qwen.Silo.Hosting;
using Qwen.Observability.Hosting;
using Qwen.Silo.Http;
using Qwen.Silo.Observability;

namespace Qwen.Silo;

/// <summary>A silo process: the node host of a clustered deployment.</summary>
public static class SiloProgram
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (!SiloServiceCollectionExtensions.IsClustered(builder.Configuration))
        {
            await Console.Error.WriteLineAsync(
                "error: a silo process needs Postgres:ConnectionString (--Postgres:ConnectionString=... or Postgres__ConnectionString); " +
                "for one machine without PostgreSQL run the embedded default: dotnet run --project src/Api -c Release");
            return 2;
        }
        builder.Services.AddSilo(builder.Configuration);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(90));
        var app = builder.Build();
        app.Services.StartQwenMetrics();
        app.UseUnreachableSilosHeader();
        app.UseColdSiloGate();
        app.Use(app.Services.GetRequiredService<SiloCallMetrics>().MeasureAsync);
        app.MapSiloEndpoints();
        app.MapWarmupEndpoint();
        app.MapPrometheusMetrics();
        app.MapGet("/healthz", () => Results.Ok(new { status = "up" }));
        app.MapGet("/readyz", (SiloLifecycle lifecycle) => lifecycle.IsActive
            ? Results.Ok(new { status = "ready" })
            : Results.Json(new { status = lifecycle.IsCold ? "cold" : "not ready" }, statusCode: StatusCodes.Status503ServiceUnavailable));
        try
        {
            await app.RunAsync();
            return Environment.ExitCode;
        }
        catch (Exception e) when (e is Qwen.Cluster.Postgres.ClusterStoreUnavailableException or Grains.Persistence.StorageUnavailableException
                                      or Inference.InvalidModelException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
    }
}
