using System.Text.Json.Serialization;

namespace Qwen.Api.Contracts;

// OpenAI's chat completion shapes, serialized in snake_case ("Object" is the "object" field).

public sealed record OpenAiMessage(string Role, string? Content);

/// <summary>The accepted request fields (read by ChatCompletionRequestReader; unknown fields are refused).</summary>
public sealed record ChatCompletionRequest(
    string Model,
    IReadOnlyList<OpenAiMessage> Messages,
    int? MaxTokens,
    int? MaxCompletionTokens,
    double? Temperature,
    double? TopP,
    object? Stop,
    long? Seed,
    bool? Stream,
    StreamOptions? StreamOptions,
    string? User,
    int? N,
    bool? Sentiment);

public sealed record StreamOptions(bool? IncludeUsage);

public sealed record CompletionUsage(int PromptTokens, int CompletionTokens, int TotalTokens);

public sealed record ChatCompletionChoice(int Index, OpenAiMessage Message, string FinishReason, object? Logprobs = null);

/// <param name="Sentiment">This service's extension: the user message's sentiment, when the request asked for it.</param>
public sealed record ChatCompletion(string Id, string Object, long Created, string Model, IReadOnlyList<ChatCompletionChoice> Choices,
    CompletionUsage Usage, string? SystemFingerprint = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] MessageSentimentInfo? Sentiment = null);

public sealed record ChunkDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);

public sealed record ChatCompletionChunkChoice(int Index, ChunkDelta Delta, string? FinishReason, object? Logprobs = null);

/// <param name="Sentiment">This service's extension, on the first chunk only: the user message's sentiment, when asked for.</param>
public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, IReadOnlyList<ChatCompletionChunkChoice> Choices,
    CompletionUsage? Usage = null, string? SystemFingerprint = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] MessageSentimentInfo? Sentiment = null);

public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy);

public sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

public sealed record OpenAiErrorBody(OpenAiErrorDetail Error);

public sealed record OpenAiErrorDetail(string Message, string Type, string? Param, string? Code);
