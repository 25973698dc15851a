using Qwen.Api.Observability;

namespace Qwen.Api.Security;

/// <summary>Which paths need no key, and which need an admin key.</summary>
public static class ProtectedPaths
{
    /// <summary>Health and readiness stay open: load balancers and orchestrators probe them without keys.</summary>
    public static bool IsOpen(PathString path) => path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz");

    public static bool IsMetrics(PathString path) => path.StartsWithSegments("/metrics");

    /// <summary>The operations: the cluster's status and scaling signal, metrics, both dashboards.</summary>
    public static bool NeedsAdmin(PathString path) =>
        path.StartsWithSegments("/v1/cluster") || IsMetrics(path) || IsDashboard(path);

    /// <summary>Pages a person opens in a browser.</summary>
    public static bool IsDashboard(PathString path) =>
        path.StartsWithSegments(DashboardEndpoints.Path) || path.StartsWithSegments(DashboardEndpoints.OrleansPath);
}
