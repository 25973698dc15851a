using Qwen.Api.Cluster;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Qwen.Api.Contracts;
using Qwen.Api.Hosting;
using Qwen.Api.Security;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Endpoints;

/// <summary>
/// /v1/conversations/{userId}: send a message (JSON or server-sent events), read or delete the history. The user id
/// names a conversation within the caller's tenant: another tenant's user of the same id is another conversation.
/// </summary>
internal static class ConversationEndpoints
{
    private static readonly string[] MessageFields = ["content", "max_tokens", "temperature", "top_p", "seed", "stop", "stream", "sentiment"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/conversations/{userId}/messages", SendAsync)
            .Accepts<ConversationMessageRequest>("application/json")
            .Produces<ConversationReply>()
            .Produces<ConversationStreamEvent>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithSummary("Send a message to the user's conversation and get the reply");
        app.MapGet("/v1/conversations/{userId}", HistoryAsync)
            .Produces<ConversationHistoryResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The user's conversation history, oldest first");
        app.MapDelete("/v1/conversations/{userId}", ResetAsync)
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Delete the user's conversation history");
    }

    private static Task<IResult> SendAsync(string userId, HttpContext context, IGrainFactory grains, IOptions<ApiLimits> options) =>
        ApiErrors.Guard(context, async () =>
        {
            var limits = options.Value;
            var ct = context.RequestAborted;
            var fingerprint = RequestFingerprint.Of(context);
            fingerprint.Task = "chat";
            long started = Stopwatch.GetTimestamp();
            CheckUserId(userId);
            var body = await JsonBody.ReadAsync(context.Request, limits.MaxRequestBodyBytes, ct);
            body.RejectUnknownFields(MessageFields);
            string content = TextRules.Check(body.RequiredString("content"), "content", limits.MaxMessageChars);
            var parameters = GenerationParameters.Read(body, limits);
            bool stream = body.OptionalBool("stream") ?? false;
            bool sentiment = body.OptionalBool("sentiment") ?? false;
            fingerprint.Input = content;
            if (sentiment) fingerprint.Task = "chat+sentiment";
            var request = new ChatTurnRequest(TurnId(context), content, parameters.MaxTokens, parameters.Temperature)
            {
                Sampling = parameters.Sampling,
                Deadline = RequestDeadline.Of(context),
                Sentiment = sentiment,
            };
            var grain = grains.GetGrain<IConversationGrain>(ApiCaller.Of(context).ConversationOf(userId));
            if (!stream)
            {
                var turn = await ConversationTurns.SendAsync(grain, request, ct);
                return Results.Ok(Reply(turn, fingerprint, started));
            }

            // The first event decides between an error response and a stream.
            await using var events = ConversationTurns.StreamAsync(grain, request, ct).GetAsyncEnumerator(ct);
            bool more = await events.MoveNextAsync();
            var sse = ServerSentEvents.Start(context);
            try
            {
                for (; more; more = await events.MoveNextAsync())
                {
                    if (events.Current.Sentiment is { } judged)
                        await sse.WriteAsync(new ConversationStreamEvent("sentiment", Sentiment: Info(judged)), ct);
                    if (events.Current.TextDelta is { Length: > 0 } delta) await sse.WriteAsync(new ConversationStreamEvent("delta", Text: delta), ct);
                    if (events.Current.Completed is { } turn) await sse.WriteAsync(new ConversationStreamEvent("done", Reply: Reply(turn, fingerprint, started)), ct);
                }
            }
            catch (GrainCallException e)
            {
                var (status, _) = ApiErrors.StatusOf(e.Kind);
                fingerprint.Output = $"error {status}: {e.Message}";
                await sse.WriteAsync(new ConversationStreamEvent("error", Status: status, Detail: e.Message), ct);
            }
            return Results.Empty;
        });

    private static Task<IResult> HistoryAsync(string userId, HttpContext context, IGrainFactory grains) =>
        ApiErrors.Guard(context, async () =>
        {
            var fingerprint = RequestFingerprint.Of(context);
            fingerprint.Task = "chat.history";
            fingerprint.Input = userId;
            CheckUserId(userId);
            var grain = grains.GetGrain<IConversationGrain>(ApiCaller.Of(context).ConversationOf(userId));
            var history = await grain.GetHistoryAsync(context.RequestAborted);
            var messages = history.Messages.Where(m => m.Role != ConversationMessage.System)
                .Select(m => new ConversationHistoryMessage(m.Role, m.Content, m.Sentiment is { } judged ? Info(judged) : null)).ToArray();
            fingerprint.Output = $"{messages.Length} messages";
            return messages.Length == 0 ? NoConversation(context, userId) : Results.Ok(new ConversationHistoryResponse(history.UserId, messages));
        });

    private static Task<IResult> ResetAsync(string userId, HttpContext context, IGrainFactory grains) =>
        ApiErrors.Guard(context, async () =>
        {
            var fingerprint = RequestFingerprint.Of(context);
            fingerprint.Task = "chat.reset";
            fingerprint.Input = userId;
            CheckUserId(userId);
            var grain = grains.GetGrain<IConversationGrain>(ApiCaller.Of(context).ConversationOf(userId));
            bool deleted = await grain.ResetAsync(context.RequestAborted);
            return deleted ? Results.NoContent() : NoConversation(context, userId);
        });

    /// <summary>
    /// A conversation without messages does not exist: never started, deleted, or another tenant's (which is never
    /// reached, and must not be told apart from one that does not exist).
    /// </summary>
    private static IResult NoConversation(HttpContext context, string userId) =>
        ApiErrors.For(context, StatusCodes.Status404NotFound, $"there is no conversation of user '{userId}'");

    public static void CheckUserId(string userId)
    {
        if (UserIdFormat.Problem(userId) is { } problem) throw RequestRejectedException.BadRequest(problem, "user");
    }

    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const int MaxIdempotencyKeyChars = 128;

    /// <summary>
    /// One id per HTTP request, or the client's Idempotency-Key: retries across silos reuse it. A key that breaks the
    /// rule is refused, never replaced: a fresh id would store a retried turn twice.
    /// </summary>
    public static string TurnId(HttpContext context)
    {
        var values = context.Request.Headers[IdempotencyKeyHeader];
        if (values.Count == 0) return Guid.NewGuid().ToString("N");
        if (values.Count > 1)
            throw RequestRejectedException.BadRequest($"the {IdempotencyKeyHeader} header is given {values.Count} times; give it once");
        string key = values[0] ?? "";
        if (key.Length is 0 or > MaxIdempotencyKeyChars)
            throw RequestRejectedException.BadRequest(
                $"the {IdempotencyKeyHeader} header has {key.Length} characters; it must have 1 to {MaxIdempotencyKeyChars}");
        if (key.AsSpan().IndexOfAnyExceptInRange('!', '~') is int at and >= 0)
            throw RequestRejectedException.BadRequest(
                $"the {IdempotencyKeyHeader} header may hold only visible ASCII characters; character {at} is not one");
        return key;
    }

    private static ConversationReply Reply(ChatTurnResult turn, RequestFingerprint fingerprint, long started)
    {
        fingerprint.Output = turn.Reply;
        fingerprint.Silo = turn.SiloId;
        return new ConversationReply(turn.UserId, turn.Reply, turn.TurnNumber, turn.TurnId, turn.FinishReason,
            new TokenUsage(turn.PromptTokens, turn.CompletionTokens), turn.Truncation.Truncated, turn.Truncation.DroppedTurns,
            turn.SiloId, fingerprint.Id, SentimentEndpoints.ElapsedMs(started),
            turn.Degraded is { } d ? new ReplyDegradationInfo(d.Reason, d.MaxTokens) : null,
            turn.Sentiment is { } judged ? Info(judged) : null);
    }

    public static MessageSentimentInfo Info(MessageSentiment sentiment) => new(sentiment.Label, sentiment.Score);
}
