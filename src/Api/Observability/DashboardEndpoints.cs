using Microsoft.Extensions.FileProviders;
using Orleans.Dashboard;

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
        string root = System.IO.Path.Combine(AppContext.BaseDirectory, "dashboard");
        if (!Directory.Exists(root))
        {
            app.Logger.LogWarning("The dashboard's files are missing from {DashboardDirectory}; /dashboard is not served", root);
            return app;
        }
        // A middleware, not a route: a matched route would keep the static-file middleware from serving /dashboard/.
        app.Use((context, next) =>
        {
            if (context.Request.Path.Value != Path) return next(context);
            context.Response.Redirect(Path + "/" + context.Request.QueryString);
            return Task.CompletedTask;
        });
        app.MapOrleansDashboard(routePrefix: OrleansPath);
        var files = new PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = Path });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = Path,
            // Always revalidated, so a new version of the page never mixes with an old script.
            OnPrepareResponse = ctx => ctx.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }
}
