using Qwen.Grains.Interfaces;

namespace Qwen.Api.Endpoints;

/// <summary>Reply settings shared by the conversation and chat completion endpoints, checked for range.</summary>
internal sealed record GenerationParameters(int? MaxTokens, float? Temperature, SamplingParameters? Sampling)
{
    /// <summary>OpenAI's temperature range; 0 (or none) is greedy decoding.</summary>
    public const double MaxTemperature = 2;

    public static GenerationParameters Read(JsonBody body, ApiLimits limits)
    {
        int? maxTokens = body.OptionalInt("max_tokens", 1, limits.MaxTokensLimit);
        if (body.Has("max_completion_tokens"))
        {
            int? completion = body.OptionalInt("max_completion_tokens", 1, limits.MaxTokensLimit);
            if (maxTokens is not null && maxTokens != completion)
                throw RequestRejectedException.BadRequest("max_tokens and max_completion_tokens disagree; give one of them", "max_completion_tokens");
            maxTokens = completion;
        }
        double? temperature = body.OptionalNumber("temperature", 0, MaxTemperature);
        double? topP = body.OptionalNumber("top_p", 0, 1, minExclusive: true);
        long? seed = body.OptionalLong("seed");
        var stop = Stop(body);
        var sampling = topP is null && seed is null && stop is null
            ? null
            : new SamplingParameters((float?)topP, seed is { } s ? unchecked((ulong)s) : null, stop is null ? null : [.. stop]);
        return new GenerationParameters(maxTokens, (float?)temperature, sampling);
    }

    /// <summary>A string or an array of up to four non-empty strings, as OpenAI accepts.</summary>
    private static IReadOnlyList<string>? Stop(JsonBody body)
    {
        if (body.Field("stop") is not { } value) return null;
        string[] stops = value.ValueKind switch
        {
            System.Text.Json.JsonValueKind.String => [JsonBody.AsString(value, "stop")],
            System.Text.Json.JsonValueKind.Array => value.EnumerateArray().Select((e, i) => JsonBody.AsString(e, $"stop[{i}]")).ToArray(),
            _ => throw JsonBody.WrongType("stop", "a string or an array of strings", value),
        };
        if (stops.Length > SamplingParameters.MaxStopSequences)
            throw RequestRejectedException.BadRequest($"the field 'stop' may hold at most {SamplingParameters.MaxStopSequences} sequences but held {stops.Length}", "stop");
        for (int i = 0; i < stops.Length; i++)
        {
            if (stops[i].Length == 0) throw RequestRejectedException.BadRequest($"stop sequence {i} is empty", "stop");
            TextRules.Check(stops[i], "stop", SamplingParameters.MaxStopChars, allowBlank: true);
        }
        return stops.Length == 0 ? null : stops;
    }
}
