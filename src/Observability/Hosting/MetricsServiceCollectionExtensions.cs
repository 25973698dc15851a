using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using Qwen.Observability.Metrics;

namespace Qwen.Observability.Hosting;

public static class MetricsServiceCollectionExtensions
{
    /// <summary>
    /// The meters every Qwen process exposes: ours ("Qwen.*"), Orleans' ("Microsoft.Orleans" and any sub-meter)
    /// and .NET's runtime meter (GC, threads, exceptions).
    /// </summary>
    public static readonly string[] DefaultMeters = ["Qwen.*", "Microsoft.Orleans", "Microsoft.Orleans.*", "System.Runtime"];

    /// <summary>
    /// OpenTelemetry metrics with the Prometheus exporter, over <see cref="DefaultMeters"/>, and the process meter.
    /// Safe to call twice: the embedded default runs the Api's and the silo's registrations in one host.
    /// </summary>
    public static IServiceCollection AddQwenMetrics(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ProcessMetrics))) return services;
        services.AddMetrics();
        services.TryAddSingleton<ProcessMetrics>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(DefaultMeters).AddPrometheusExporter());
        return services;
    }

    /// <summary>GET /metrics: this process's metrics in the Prometheus text format (OpenTelemetry's exporter).</summary>
    public static IEndpointConventionBuilder MapPrometheusMetrics(this IEndpointRouteBuilder app, string path = "/metrics") =>
        app.MapPrometheusScrapingEndpoint(path);

    /// <summary>Creates the process meter now, so the first scrape already has it.</summary>
    public static void StartQwenMetrics(this IServiceProvider services) => services.GetRequiredService<ProcessMetrics>();
}
