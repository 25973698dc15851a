using Microsoft.Extensions.DependencyInjection.Extensions;
using Qwen.Observability.Hosting;

namespace Qwen.Api.Observability;

public static class ObservabilityServiceCollectionExtensions
{
    private sealed record Mode(bool Clustered);

    /// <summary>Metrics, the public-request observer and the cluster view behind /metrics, /v1/cluster/status and /dashboard.</summary>
    public static IServiceCollection AddApiObservability(this IServiceCollection services, bool clustered)
    {
        services.AddQwenMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(new Mode(clustered));
        services.AddSingleton<ApiMetrics>();
        services.AddSingleton<ClusterMetrics>();
        services.AddSingleton<RequestWindow>();
        services.AddSingleton<RecentErrors>();
        services.AddSingleton<PublicRequestObserver>();
        return services;
    }

    /// <summary>
    /// Observes public requests (call early, so every request is measured) and maps /metrics and /v1/cluster/status (the
    /// dashboards are served after the key check: UseDashboard).
    /// </summary>
    public static WebApplication UseApiObservability(this WebApplication app)
    {
        app.Services.StartQwenMetrics();
        app.Services.GetRequiredService<ApiMetrics>();
        app.Services.GetRequiredService<ClusterMetrics>();
        app.Use(app.Services.GetRequiredService<PublicRequestObserver>().InvokeAsync);
        app.MapPrometheusMetrics()
            .WithSummary("This process's metrics (the Api's, the embedded silo's, Orleans', .NET's) and cluster totals, as Prometheus text");
        app.MapClusterStatus(app.Services.GetRequiredService<Mode>().Clustered);
        return app;
    }
}
