using System.Diagnostics;
using Microsoft.Extensions.Options;
using Qwen.Api.Cluster;
using Qwen.Api.Contracts;
using Qwen.Api.Hosting;
using Qwen.Grains.Interfaces;
using SentimentRequest = Qwen.Grains.Interfaces.SentimentRequest;

namespace Qwen.Api.Endpoints;

/// <summary>POST /v1/sentiment: one text, or a batch of texts answered item by item.</summary>
internal static class SentimentEndpoints
{
    private static readonly string[] Fields = ["text", "texts"];

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapPost("/v1/sentiment", HandleAsync)
            .Accepts<Contracts.SentimentRequest>("application/json")
            .Produces<SentimentResponse>()
            .Produces<SentimentBatchResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithSummary("Sentiment of one text (text) or of a batch (texts)");

    private static Task<IResult> HandleAsync(HttpContext context, InferenceRouter router, IOptions<ApiLimits> options) =>
        ApiErrors.Guard(context, async () =>
        {
            var limits = options.Value;
            var ct = context.RequestAborted;
            var fingerprint = RequestFingerprint.Of(context);
            fingerprint.Task = "sentiment";
            long started = Stopwatch.GetTimestamp();
            var body = await JsonBody.ReadAsync(context.Request, limits.MaxRequestBodyBytes, ct);
            body.RejectUnknownFields(Fields);
            bool single = body.Has("text"), batch = body.Has("texts");
            if (single && batch) throw RequestRejectedException.BadRequest("give either 'text' or 'texts', not both", "texts");
            if (!single && !batch) throw RequestRejectedException.BadRequest("the field 'text' is required (or 'texts' for a batch)", "text");
            if (single)
            {
                string text = TextRules.Check(body.RequiredString("text"), "text", limits.MaxTextChars);
                fingerprint.Input = text;
                var result = await router.AnalyzeSentimentAsync(new SentimentRequest(text) { Deadline = RequestDeadline.Of(context) }, ct);
                fingerprint.Output = $"{result.Label} {result.Score:F2}";
                fingerprint.Silo = result.SiloId;
                return Results.Ok(new SentimentResponse(result.Label, result.Score, result.Truncation.Truncated, fingerprint.Id,
                    ElapsedMs(started), result.SiloId));
            }

            fingerprint.Task = "sentiment.batch";
            string[] texts = BatchTexts(body, limits);
            fingerprint.Input = $"{texts.Length} texts: {texts[0]}";
            // All at once: the silos' batching engines score them together.
            var items = await Task.WhenAll(texts.Select((text, i) => AnalyzeItemAsync(router, i, text, RequestDeadline.Of(context), ct)));
            fingerprint.Output = string.Join(",", items.Select(r => r.Label ?? $"error {r.Error!.Status}"));
            fingerprint.Silo = string.Join(",", items.Select(r => r.Silo).OfType<string>().Distinct());
            return Results.Ok(new SentimentBatchResponse(items, fingerprint.Id, ElapsedMs(started)));
        });

    private static string[] BatchTexts(JsonBody body, ApiLimits limits)
    {
        var value = body.Field("texts")!.Value;
        if (value.ValueKind != System.Text.Json.JsonValueKind.Array) throw JsonBody.WrongType("texts", "an array of strings", value);
        int count = value.GetArrayLength();
        if (count == 0) throw RequestRejectedException.BadRequest("the field 'texts' is empty", "texts");
        if (count > limits.MaxBatchTexts)
            throw RequestRejectedException.BadRequest($"the field 'texts' holds {count} texts; at most {limits.MaxBatchTexts} are allowed", "texts");
        return value.EnumerateArray()
            .Select((e, i) => TextRules.Check(JsonBody.AsString(e, $"texts[{i}]"), $"texts[{i}]", limits.MaxTextChars))
            .ToArray();
    }

    private static async Task<SentimentBatchItem> AnalyzeItemAsync(InferenceRouter router, int index, string text, DateTimeOffset? deadline,
        CancellationToken ct)
    {
        try
        {
            var result = await router.AnalyzeSentimentAsync(new SentimentRequest(text) { Deadline = deadline }, ct);
            return new SentimentBatchItem(index, result.Label, result.Score, result.Truncation.Truncated, result.SiloId, null);
        }
        catch (GrainCallException e)
        {
            return new SentimentBatchItem(index, null, null, null, null, new ItemError(ApiErrors.StatusOf(e.Kind).Status, e.Message));
        }
    }

    internal static long ElapsedMs(long started) => (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}
