namespace Qwen.Api.Hosting;

/// <summary>What to tell a client whose request ended with a bare status code (no route, wrong method, ...).</summary>
internal static class StatusMessages
{
    public static string For(HttpContext context)
    {
        var request = context.Request;
        string target = $"{request.Method} {Shorten(request.Path.Value ?? "/")}";
        return context.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => $"there is no endpoint at {target}; see /openapi/v1.json for the API",
            StatusCodes.Status405MethodNotAllowed => $"the method of {target} is not allowed on this path",
            StatusCodes.Status400BadRequest => $"the request {target} is malformed",
            StatusCodes.Status413PayloadTooLarge => "the body is too large",
            // Routing refuses these before the endpoint runs (the endpoints declare the JSON they accept).
            StatusCodes.Status415UnsupportedMediaType => $"the Content-Type must be application/json, not '{Shorten(request.ContentType ?? "")}'",
            int status => $"{target} ended with status {status}",
        };
    }

    private static string Shorten(string text) => text.Length <= 100 ? text : text[..100] + "…";
}
