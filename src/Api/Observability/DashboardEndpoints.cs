using Orleans.Dashboard;
using Qwen.Api.Hosting;

namespace Qwen.Api.Observability;

/// <summary>
/// The dashboard: static HTML, script and style (with the vendored chart library) from the
/// build output's dashboard/ folder, served at /dashboard.
/// </summary>
public static class DashboardEndpoints
{
    public const string Path = "/dashboard";

    /// <summary>Where the Orleans Dashboard (grain activations, calls, silo health) is served; the product dashboard links it.</summary>
    public const string OrleansPath = "/orleans-dashboard";

    public static WebApplication UseDashboard(this WebApplication app)
    {
        if (app.UseStaticPage("dashboard", Path, request => request.Path.Value == Path))
        {
            app.MapOrleansDashboard(routePrefix: OrleansPath);
        }
        return app;
    }
}
