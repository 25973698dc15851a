using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Qwen.Observability.Metrics;
using Qwen.Observability.Prometheus;

namespace Qwen.Observability.Hosting;

public static class MetricsServiceCollectionExtensions
{
    /// <summary>The meters every Qwen process exposes: ours ("Qwen.*") and .NET's runtime meter (GC, threads, exceptions).</summary>
    public static readonly string[] DefaultMeters = ["Qwen.*", "System.Runtime"];

    /// <summary>Registers the meter collector (started at once, so no measurement is missed) and the process meter.</summary>
    public static IServiceCollection AddQwenMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(_ => new MeterCollector(DefaultMeters));
        services.TryAddSingleton<ProcessMetrics>();
        return services;
    }

    /// <summary>GET /metrics: this process's metrics in the Prometheus text format.</summary>
    public static IEndpointConventionBuilder MapPrometheusMetrics(this IEndpointRouteBuilder app, string path = "/metrics") =>
        app.MapGet(path, (MeterCollector collector) => Results.Text(PrometheusText.Write(collector.Collect()), PrometheusText.ContentType));

    /// <summary>Creates the collector and the process meter now (before requests start being measured).</summary>
    public static void StartQwenMetrics(this IServiceProvider services)
    {
        services.GetRequiredService<MeterCollector>();
        services.GetRequiredService<ProcessMetrics>();
    }
}
