using Microsoft.Extensions.FileProviders;

namespace Qwen.Api.Hosting;

/// <summary>
/// A page of static files (HTML, script, style) from a folder of the build output, served under one path with its
/// index.html as the default; the dashboard and the chat page are built this way, with no front-end build step.
/// </summary>
internal static class StaticPage
{
    /// <summary>
    /// Serves <paramref name="folder"/> at <paramref name="path"/>/ and redirects the requests <paramref name="redirect"/>
    /// accepts there. Returns false, with a warning, when the build output lacks the folder.
    /// </summary>
    public static bool UseStaticPage(this WebApplication app, string folder, string path, Func<HttpRequest, bool> redirect)
    {
        string root = Path.Combine(AppContext.BaseDirectory, folder);
        if (!Directory.Exists(root))
        {
            app.Logger.LogWarning("The files of {PagePath} are missing from {PageDirectory}; it is not served", path, root);
            return false;
        }
        // A middleware, not a route: a matched route would keep the static-file middleware from serving path/.
        app.Use((context, next) =>
        {
            if (!redirect(context.Request)) return next(context);
            context.Response.Redirect(path + "/" + context.Request.QueryString);
            return Task.CompletedTask;
        });
        var files = new PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = path });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = path,
            // Always revalidated, so a new version of the page never mixes with an old script.
            OnPrepareResponse = ctx => ctx.Context.Response.Headers.CacheControl = "no-cache",
        });
        return true;
    }
}
