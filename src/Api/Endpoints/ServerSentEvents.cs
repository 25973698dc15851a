using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Qwen.Api.Endpoints;

/// <summary>Writes a text/event-stream response, one <c>data:</c> line per event, flushed at once.</summary>
internal sealed class ServerSentEvents
{
    private readonly HttpResponse _response;
    private readonly JsonSerializerOptions _json;

    private ServerSentEvents(HttpResponse response, JsonSerializerOptions json)
    {
        _response = response;
        _json = json;
    }

    public static ServerSentEvents Start(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // Proxies such as nginx would otherwise hold the events back.
        response.Headers["X-Accel-Buffering"] = "no";
        var json = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return new ServerSentEvents(response, json);
    }

    public Task WriteAsync<T>(T data, CancellationToken cancellationToken) =>
        WriteRawAsync(JsonSerializer.Serialize(data, _json), cancellationToken);

    public async Task WriteRawAsync(string data, CancellationToken cancellationToken)
    {
        await _response.WriteAsync("data: " + data + "\n\n", cancellationToken);
        await _response.Body.FlushAsync(cancellationToken);
    }
}
