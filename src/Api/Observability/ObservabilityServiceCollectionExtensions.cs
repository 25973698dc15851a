using Microsoft.Extensions.DependencyInjection.Extensions;
using Qwen.Observability.Hosting;

namespace Qwen.Api.Observability;

public static class ObservabilityServiceCollectionExtensions
{
    /// <summary>Metrics, the public-request observer and the cluster view behind /metrics, /v1/cluster/status and /dashboard.</summary>
    public static IServiceCollection AddApiObservability(this IServiceCollection services, bool clustered)
    {
        services.AddQwenMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ApiMetrics>();
        services.AddSingleton<RequestWindow>();
        services.AddSingleton<RecentErrors>();
        services.AddSingleton<PublicRequestObserver>();
        services.AddSingleton<ClusterMetricsExposition>();
        if (clustered) services.AddSingleton<ISiloMetricsSource, ScrapedSiloMetrics>();
        else services.AddSingleton<ISiloMetricsSource, EmbeddedSiloMetrics>();
        return services;
    }

    /// <summary>Observes public requests (call early, so every request is measured) and maps /metrics, /v1/cluster/status and /dashboard.</summary>
    public static WebApplication UseApiObservability(this WebApplication app)
    {
        app.Services.StartQwenMetrics();
        app.Services.GetRequiredService<ApiMetrics>();
        app.Use(app.Services.GetRequiredService<PublicRequestObserver>().InvokeAsync);
        app.MapGet("/metrics", async (ClusterMetricsExposition exposition, CancellationToken ct) =>
            Results.Text(await exposition.WriteAsync(ct), Qwen.Observability.Prometheus.PrometheusText.ContentType))
            .WithSummary("Metrics of the Api and of every live silo (labelled silo) with cluster totals, in the Prometheus text format");
        app.MapClusterStatus();
        app.UseDashboard();
        return app;
    }
}
