using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using Qwen.Api.Cluster;
using Qwen.Api.Contracts;
using Qwen.Api.Hosting;
using Qwen.Api.Security;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Endpoints;

/// <summary>
/// OpenAI-compatible GET /v1/models and POST /v1/chat/completions. With <c>user</c>, the request's
/// last user message is a turn of that user's server-side conversation; without, the messages are
/// answered statelessly by a silo's inference worker.
/// </summary>
internal static class ChatCompletionEndpoints
{
    private static readonly long StartedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", (IOptions<ApiLimits> options, HttpContext context) =>
            {
                Fingerprint(context, "models");
                return Results.Ok(new ModelList("list", [Card(options.Value.ModelId)]));
            })
            .Produces<ModelList>()
            .WithSummary("The served model (OpenAI-compatible)");
        app.MapGet("/v1/models/{model}", (string model, IOptions<ApiLimits> options, HttpContext context) =>
            {
                Fingerprint(context, "models").Input = model;
                return model == options.Value.ModelId
                    ? Results.Ok(Card(model))
                    : OpenAiError.Result(StatusCodes.Status404NotFound, $"the model '{model}' does not exist", "model", "model_not_found");
            })
            .Produces<ModelCard>()
            .Produces<OpenAiErrorBody>(StatusCodes.Status404NotFound)
            .WithSummary("One model (OpenAI-compatible)");
        app.MapPost("/v1/chat/completions", CompleteAsync)
            .Accepts<ChatCompletionRequest>("application/json")
            .Produces<ChatCompletion>()
            .Produces<ChatCompletionChunk>(StatusCodes.Status200OK, "text/event-stream")
            .Produces<OpenAiErrorBody>(StatusCodes.Status400BadRequest)
            .WithSummary("Chat completion (OpenAI-compatible), stateless or as the turn of a user's conversation");
    }

    private static ModelCard Card(string id) => new(id, "model", StartedAt, "qwen-aio");

    private static RequestFingerprint Fingerprint(HttpContext context, string task)
    {
        var fingerprint = RequestFingerprint.Of(context);
        fingerprint.Task = task;
        return fingerprint;
    }

    /// <summary>A piece of the reply, or (last) the whole reply with its accounting; first, alone, the message's sentiment when asked.</summary>
    private sealed record Piece(string? Delta, Completion? Done, MessageSentiment? Sentiment = null);

    private sealed record Completion(string Text, int PromptTokens, int CompletionTokens, string FinishReason, string Silo,
        MessageSentiment? Sentiment = null);

    private static Task<IResult> CompleteAsync(HttpContext context, IGrainFactory grains, IOptions<ApiLimits> options) =>
        ApiErrors.Guard(context, async () =>
        {
            var limits = options.Value;
            var ct = context.RequestAborted;
            var fingerprint = Fingerprint(context, "chat.completions");
            var body = await JsonBody.ReadAsync(context.Request, limits.MaxRequestBodyBytes, ct);
            var call = ChatCompletionCall.Read(body, limits, limits.ModelId);
            fingerprint.Input = call.LastUserMessage;
            if (call.User is not null) fingerprint.Task = $"chat.completions user={call.User}";
            // A turn of a conversation: refuse a bad Idempotency-Key now, before a stream could start.
            if (call.User is not null) ConversationEndpoints.TurnId(context);
            string id = "chatcmpl-" + fingerprint.Id;
            long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

            if (!call.Stream)
            {
                Completion? done = null;
                await foreach (var piece in Pieces(call, grains, context, ct)) done = piece.Done ?? done;
                var reply = done ?? throw new InvalidOperationException("the reply ended without its accounting");
                Note(fingerprint, reply);
                return Results.Ok(new ChatCompletion(id, "chat.completion", created, call.Model,
                    [new ChatCompletionChoice(0, new OpenAiMessage("assistant", reply.Text), reply.FinishReason)], Usage(reply),
                    Sentiment: reply.Sentiment is { } judged ? ConversationEndpoints.Info(judged) : null));
            }

            // The first piece decides between an error response and a stream.
            await using var pieces = Pieces(call, grains, context, ct).GetAsyncEnumerator(ct);
            bool more = await pieces.MoveNextAsync();
            var sse = ServerSentEvents.Start(context);
            ChatCompletionChunk Chunk(ChunkDelta delta, string? finish) =>
                new(id, "chat.completion.chunk", created, call.Model, [new ChatCompletionChunkChoice(0, delta, finish)]);
            try
            {
                // The first chunk names the role; a turn that asked for its sentiment carries it there, before any text.
                var first = Chunk(new ChunkDelta("assistant", ""), null);
                if (more && pieces.Current.Sentiment is { } judged)
                {
                    first = first with { Sentiment = ConversationEndpoints.Info(judged) };
                    more = await pieces.MoveNextAsync();
                }
                await sse.WriteAsync(first, ct);
                for (; more; more = await pieces.MoveNextAsync())
                {
                    if (pieces.Current.Delta is { Length: > 0 } delta) await sse.WriteAsync(Chunk(new ChunkDelta(null, delta), null), ct);
                    if (pieces.Current.Done is not { } reply) continue;
                    Note(fingerprint, reply);
                    await sse.WriteAsync(Chunk(new ChunkDelta(null, null), reply.FinishReason), ct);
                    if (call.IncludeUsage)
                        await sse.WriteAsync(new ChatCompletionChunk(id, "chat.completion.chunk", created, call.Model, [], Usage(reply)), ct);
                }
                await sse.WriteRawAsync("[DONE]", ct);
            }
            catch (GrainCallException e)
            {
                var (status, _) = ApiErrors.StatusOf(e.Kind);
                fingerprint.Output = $"error {status}: {e.Message}";
                await sse.WriteAsync(OpenAiError.Body(status, e.Message), ct);
            }
            return Results.Empty;
        });

    private static void Note(RequestFingerprint fingerprint, Completion reply)
    {
        fingerprint.Output = reply.Text;
        fingerprint.Silo = reply.Silo;
    }

    private static CompletionUsage Usage(Completion reply) =>
        new(reply.PromptTokens, reply.CompletionTokens, reply.PromptTokens + reply.CompletionTokens);

    /// <summary>The reply as it is generated, from the user's conversation grain or a stateless worker call.</summary>
    private static async IAsyncEnumerable<Piece> Pieces(ChatCompletionCall call, IGrainFactory grains, HttpContext context,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var p = call.Parameters;
        if (call.User is { } user)
        {
            var turn = new ChatTurnRequest(ConversationEndpoints.TurnId(context), call.LastUserMessage, p.MaxTokens, p.Temperature)
            {
                Sampling = p.Sampling,
                Deadline = RequestDeadline.Of(context),
                Sentiment = call.Sentiment,
            };
            // OpenAI's user names a conversation within the caller's tenant.
            var grain = grains.GetGrain<IConversationGrain>(ApiCaller.Of(context).ConversationOf(user));
            if (!call.Stream)
            {
                yield return new Piece(null, Done(await ConversationTurns.SendAsync(grain, turn, ct)));
                yield break;
            }
            await foreach (var e in ConversationTurns.StreamAsync(grain, turn, ct))
                yield return new Piece(e.TextDelta, e.Completed is { } completed ? Done(completed) : null, e.Sentiment);
            yield break;
        }

        var request = new ChatGenerationRequest([.. call.Messages], p.MaxTokens, p.Temperature)
        {
            Sampling = p.Sampling,
            SystemMessage = call.SystemMessage,
            Deadline = RequestDeadline.Of(context),
        };
        await foreach (var e in context.RequestServices.GetRequiredService<InferenceRouter>().GenerateReplyAsync(request, ct))
        {
            yield return new Piece(e.TextDelta, e.Summary is { } s
                ? new Completion(s.Text, s.PromptTokens, s.CompletionTokens, s.FinishReason, s.SiloId)
                : null);
        }
    }

    // A retried turn answered from storage reports "stored": to an OpenAI client it simply stopped.
    private static Completion Done(ChatTurnResult turn) => new(turn.Reply, turn.PromptTokens, turn.CompletionTokens,
        turn.FinishReason == "length" ? "length" : "stop", turn.SiloId, turn.Sentiment);
}
