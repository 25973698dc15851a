using System.Text.Json.Serialization;

namespace Qwen.Api.Contracts;

// Shapes of /v1/sentiment, serialized in snake_case; the request records document the body (it is read by JsonBody).

/// <summary>Either <c>text</c> (one result) or <c>texts</c> (a batch, one result per text, in order).</summary>
public sealed record SentimentRequest(string? Text, IReadOnlyList<string>? Texts);

public sealed record SentimentResponse(string Label, double Score, bool Truncated, string RequestId, long LatencyMs, string Silo);

/// <summary>One text's result: a label and score, or the error that text met.</summary>
public sealed record SentimentBatchItem(
    int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Label,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Score,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Truncated,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Silo,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ItemError? Error);

public sealed record ItemError(int Status, string Detail);

public sealed record SentimentBatchResponse(IReadOnlyList<SentimentBatchItem> Results, string RequestId, long LatencyMs);
