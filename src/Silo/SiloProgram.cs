using Qwen.Grains;
using Qwen.Grains.Interfaces;
using Qwen.Observability.Hosting;
using Qwen.Silo.Hosting;
using Qwen.Silo.Storage.Postgres;

namespace Qwen.Silo;

/// <summary>A silo process: the node host of a clustered deployment (Orleans silo, model, health and metrics over HTTP).</summary>
public static class SiloProgram
{
    public static async Task<int> RunAsync(string[] args)
    {
        // appsettings.json (log levels) sits beside the program, wherever it is started from.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        try
        {
            builder.AddQwenSilo();
        }
        catch (ClusterTransport.ClusterTlsException e)
        {
            // A configuration error (exit 2): restarting cannot help, and the unit does not.
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(90));
        var app = builder.Build();
        app.Services.StartQwenMetrics();
        app.MapPrometheusMetrics();
        app.MapGet("/healthz", () => Results.Ok(new { status = "up" }));
        app.MapGet("/readyz", (ISiloModel silo) => silo.State == SiloStatusReport.Active
            ? Results.Ok(new { status = "ready" })
            : Results.Json(new { status = silo.State }, statusCode: StatusCodes.Status503ServiceUnavailable));
        try
        {
            await app.RunAsync();
            return Environment.ExitCode;
        }
        catch (Exception e) when (e is PostgresUnavailableException or Grains.Persistence.StorageUnavailableException or Inference.InvalidModelException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
    }
}
