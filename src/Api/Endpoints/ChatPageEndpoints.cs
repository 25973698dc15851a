using Qwen.Api.Hosting;

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
        app.UseStaticPage("chat", Path, request => (request.Path.Value is "/" or Path) && HttpMethods.IsGet(request.Method));
        return app;
    }
}
