using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Endpoints;

/// <summary>The public task endpoints under /v1/.</summary>
public static class PublicEndpoints
{
    public static IEndpointRouteBuilder MapPublicEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/sentiment", SentimentAsync);
        app.MapPost("/v1/conversations/{userId}/messages", SendMessageAsync);
        app.MapGet("/v1/conversations/{userId}", GetConversationAsync);
        app.MapDelete("/v1/conversations/{userId}", ResetConversationAsync);
        return app;
    }

    private static async Task<IResult> SentimentAsync(HttpRequest request, IGrainFactory grains, IOptions<ApiLimits> limits, CancellationToken ct)
    {
        var (deadline, bad) = RequestDeadline.Start(request, limits.Value);
        if (bad is not null) return bad;
        using var _ = deadline;
        var (text, error) = await ReadTextFieldAsync(request, "text", limits.Value.MaxTextChars, limits.Value, ct);
        if (error is not null) return error;
        return await Call(deadline!, async token =>
        {
            var result = await grains.GetInferenceWorker().AnalyzeSentimentAsync(new SentimentRequest(text, deadline!.At), token);
            return Results.Ok(new
            {
                label = result.Label,
                score = result.Score,
                truncated = result.Truncation.Truncated,
                silo = result.SiloId,
            });
        });
    }

    private static async Task<IResult> SendMessageAsync(string userId, HttpRequest request, IGrainFactory grains, IOptions<ApiLimits> limits, CancellationToken ct)
    {
        if (InvalidUserId(userId) is { } bad) return bad;
        var (deadline, badTimeout) = RequestDeadline.Start(request, limits.Value);
        if (badTimeout is not null) return badTimeout;
        using var _ = deadline;
        var (content, error) = await ReadTextFieldAsync(request, "content", limits.Value.MaxMessageChars, limits.Value, ct);
        if (error is not null) return error;
        // One id per HTTP request (or the client's Idempotency-Key): retries across silos reuse it.
        string turnId = request.Headers["Idempotency-Key"].FirstOrDefault() is { Length: > 0 and <= 128 } key ? key : Guid.NewGuid().ToString("N");
        return await Call(deadline!, async token =>
        {
            var turn = await grains.GetConversation(userId).SendMessageAsync(
                new ChatTurnRequest(turnId, content, Deadline: deadline!.At), token);
            return Results.Ok(new
            {
                user_id = turn.UserId,
                reply = turn.Reply,
                turn = turn.TurnNumber,
                turn_id = turn.TurnId,
                finish_reason = turn.FinishReason,
                usage = new { prompt_tokens = turn.PromptTokens, completion_tokens = turn.CompletionTokens },
                truncated = turn.Truncation.Truncated,
                dropped_turns = turn.Truncation.DroppedTurns,
                degraded = turn.Degraded is { } d ? new { reason = d.Reason, max_tokens = d.MaxTokens } : null,
                silo = turn.SiloId,
            });
        });
    }

    private static async Task<IResult> GetConversationAsync(string userId, HttpRequest request, IGrainFactory grains, IOptions<ApiLimits> limits)
    {
        if (InvalidUserId(userId) is { } bad) return bad;
        var (deadline, badTimeout) = RequestDeadline.Start(request, limits.Value);
        if (badTimeout is not null) return badTimeout;
        using var _ = deadline;
        return await Call(deadline!, async token =>
        {
            var history = await grains.GetConversation(userId).GetHistoryAsync(token);
            return Results.Ok(new
            {
                user_id = history.UserId,
                messages = history.Messages.Where(m => m.Role != ConversationMessage.System).Select(m => new { role = m.Role, content = m.Content }),
            });
        });
    }

    private static async Task<IResult> ResetConversationAsync(string userId, HttpRequest request, IGrainFactory grains, IOptions<ApiLimits> limits)
    {
        if (InvalidUserId(userId) is { } bad) return bad;
        var (deadline, badTimeout) = RequestDeadline.Start(request, limits.Value);
        if (badTimeout is not null) return badTimeout;
        using var _ = deadline;
        return await Call(deadline!, async token =>
        {
            await grains.GetConversation(userId).ResetAsync(token);
            return Results.NoContent();
        });
    }

    /// <summary>The body's one required text field: present, a string, not blank, not over the limit.</summary>
    private static async Task<(string Text, IResult? Error)> ReadTextFieldAsync(HttpRequest request, string field, int maxChars,
        ApiLimits limits, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadAsync(request, limits.MaxRequestBodyBytes, ct);
        if (error is not null) return ("", error);
        string? text = body!.RequiredString(field, out string? problem);
        if (problem is not null) return ("", ApiProblem.BadRequest(problem));
        if (string.IsNullOrWhiteSpace(text)) return ("", ApiProblem.BadRequest($"the field '{field}' is empty"));
        if (text.Length > maxChars) return ("", ApiProblem.BadRequest($"the field '{field}' has {text.Length} characters; the limit is {maxChars}"));
        if (UnstorableCharacter(text) is { } bad) return ("", ApiProblem.BadRequest($"the field '{field}' contains {bad}"));
        return (text, null);
    }

    /// <summary>NUL and unpaired surrogates cannot be tokenized as text or stored; name the first one.</summary>
    private static string? UnstorableCharacter(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\0') return $"a NUL character at position {i}";
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(c)) return $"an unpaired UTF-16 surrogate at position {i}";
        }
        return null;
    }

    private static IResult? InvalidUserId(string userId) =>
        UserIdFormat.Problem(userId) is { } problem ? ApiProblem.BadRequest(problem) : null;

    /// <summary>
    /// Runs a grain call under the request's deadline: grain errors become problem details, and a
    /// call still unanswered after the deadline is cancelled (down to the model batch) and answered 504.
    /// </summary>
    private static async Task<IResult> Call(RequestDeadline deadline, Func<CancellationToken, Task<IResult>> call)
    {
        try
        {
            return await call(deadline.Token);
        }
        catch (GrainCallException e)
        {
            return ApiProblem.FromGrainError(e);
        }
        catch (OperationCanceledException) when (deadline.HasExpired)
        {
            return deadline.Expired();
        }
    }
}
