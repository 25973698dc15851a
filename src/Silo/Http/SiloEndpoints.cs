using System.Text.Json;
using Qwen.Cluster.Transport;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Http;

/// <summary>
/// The silo's grain endpoints, called by the Api (see <see cref="SiloRoutes"/>). They only
/// translate HTTP to <see cref="IGrainFactory"/> calls and grain errors back to HTTP.
/// </summary>
public static class SiloEndpoints
{
    public static IEndpointRouteBuilder MapSiloEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(SiloRoutes.Turns, (string userId, ChatTurnRequest request, IGrainFactory grains, HttpContext context) =>
            Invoke(() => grains.GetConversation(userId).SendMessageAsync(request with { Deadline = DeadlineOf(context) }, context.RequestAborted)));
        app.MapGet(SiloRoutes.Conversation, (string userId, IGrainFactory grains, CancellationToken ct) =>
            Invoke(() => grains.GetConversation(userId).GetHistoryAsync(ct)));
        app.MapDelete(SiloRoutes.Conversation, async (string userId, IGrainFactory grains, CancellationToken ct) =>
            await Invoke(async () =>
            {
                await grains.GetConversation(userId).ResetAsync(ct);
                return (object?)null;
            }));
        app.MapPost(SiloRoutes.Sentiment, (SentimentRequest request, IGrainFactory grains, HttpContext context) =>
            Invoke(() => grains.GetInferenceWorker().AnalyzeSentimentAsync(request with { Deadline = DeadlineOf(context) }, context.RequestAborted)));
        app.MapPost(SiloRoutes.TurnStream, (string userId, ChatTurnRequest request, IGrainFactory grains, HttpContext context) =>
            StreamAsync(context, grains.GetConversation(userId).StreamMessageAsync(request with { Deadline = DeadlineOf(context) }, context.RequestAborted)));
        app.MapPost(SiloRoutes.Generate, (ChatGenerationRequest request, IGrainFactory grains, HttpContext context) =>
            StreamAsync(context, grains.GetInferenceWorker().GenerateReplyAsync(request with { Deadline = DeadlineOf(context) }, context.RequestAborted)));
        app.MapGet(SiloRoutes.WorkerLoad, (IGrainFactory grains, CancellationToken ct) => Invoke(() => grains.GetInferenceWorker().GetLoadAsync(ct)));
        return app;
    }

    /// <summary>
    /// The caller's deadline (<see cref="DeadlineHeader"/>), on this silo's clock; none without the
    /// header. A deadline sent in the body is ignored: only the caller's remaining time counts.
    /// </summary>
    private static DateTimeOffset? DeadlineOf(HttpContext context) =>
        DeadlineHeader.Parse(context.Request.Headers[DeadlineHeader.Name], DateTimeOffset.UtcNow);

    private static async Task<IResult> Invoke<T>(Func<Task<T>> call)
    {
        try
        {
            T result = await call();
            return result is null ? Results.NoContent() : Results.Json(result, TransportJson.Options);
        }
        catch (GrainCallException e)
        {
            return Error(e);
        }
    }

    private static IResult Error(GrainCallException e) =>
        Results.Json(new GrainErrorBody(e.Kind, e.Message), TransportJson.Options, statusCode: (int)GrainErrorBody.StatusOf(e.Kind));

    /// <summary>Server-sent events; an error after the stream has started is sent as a last event.</summary>
    private static async Task StreamAsync<T>(HttpContext context, IAsyncEnumerable<T> stream) where T : class
    {
        var ct = context.RequestAborted;
        var events = stream.GetAsyncEnumerator(ct);
        bool started = false;
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await events.MoveNextAsync();
                }
                catch (GrainCallException e) when (!started)
                {
                    await Error(e).ExecuteAsync(context);
                    return;
                }
                catch (GrainCallException e)
                {
                    await WriteEventAsync(context, new SiloHttpClient.StreamItem<T>(null, new GrainErrorBody(e.Kind, e.Message)), ct);
                    return;
                }
                if (!more) return;
                if (!started)
                {
                    context.Response.ContentType = "text/event-stream";
                    context.Response.Headers.CacheControl = "no-cache";
                    started = true;
                }
                await WriteEventAsync(context, new SiloHttpClient.StreamItem<T>(events.Current, null), ct);
            }
        }
        finally
        {
            await events.DisposeAsync();
        }
    }

    private static async Task WriteEventAsync<T>(HttpContext context, SiloHttpClient.StreamItem<T> item, CancellationToken ct) where T : class
    {
        await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(item, TransportJson.Options) + "\n\n", ct);
        await context.Response.Body.FlushAsync(ct);
    }
}
