using Microsoft.Extensions.FileProviders;

namespace Qwen.Api.Endpoints;

/// <summary>
/// The chat page for people: static HTML, script and style from the build output's chat/ folder,
/// served at /chat/; / and /chat redirect there.
/// </summary>
public static class ChatPageEndpoints
{
    public const string Path = "/chat";

    public static WebApplication UseChatPage(this WebApplication app)
    {
        string root = System.IO.Path.Combine(AppContext.BaseDirectory, "chat");
        if (!Directory.Exists(root))
        {
            app.Logger.LogWarning("The chat page's files are missing from {ChatDirectory}; /chat is not served", root);
            return app;
        }
        // A middleware, not a route: a matched route would keep the static-file middleware from serving /chat/.
        app.Use((context, next) =>
        {
            if (context.Request.Path.Value is not ("/" or Path) || !HttpMethods.IsGet(context.Request.Method)) return next(context);
            context.Response.Redirect(Path + "/" + context.Request.QueryString);
            return Task.CompletedTask;
        });
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
