using Qwen.Grains.Interfaces;
using Qwen.Inference.Generation;
using Qwen.Inference.Prompts;

namespace Qwen.Grains;

/// <summary>Checks worker requests before they take a place in the queue; a bad one is an <see cref="GrainErrorKind.InvalidRequest"/>.</summary>
internal static class InferenceRequestRules
{
    /// <summary>The highest temperature accepted (OpenAI's range); higher values give noise.</summary>
    public const float MaxTemperature = 2f;

    public static string SentimentText(SentimentRequest? request, InferenceWorkerOptions options)
    {
        string? text = request?.Text;
        if (string.IsNullOrWhiteSpace(text)) throw Invalid("the text to classify is empty");
        if (text.Length > options.MaxSentimentTextChars)
            throw Invalid($"the text to classify has {text.Length} characters; at most {options.MaxSentimentTextChars} are accepted");
        return text;
    }

    /// <summary>The conversation as prompt messages: user and assistant only, ending with a non-empty user message.</summary>
    public static IReadOnlyList<ChatMessage> Conversation(ChatGenerationRequest? request)
    {
        var messages = request?.Messages;
        if (messages is null || messages.Length == 0) throw Invalid("the conversation is empty; it must end with the user's new message");
        var conversation = new ChatMessage[messages.Length];
        for (int i = 0; i < messages.Length; i++)
        {
            var message = messages[i] ?? throw Invalid($"message {i} is missing");
            if (message.Role is not (ConversationMessage.User or ConversationMessage.Assistant))
                throw Invalid($"message {i} has role '{message.Role}'; only user and assistant messages are accepted (a system message goes in SystemMessage)");
            if (message.Content is null) throw Invalid($"message {i} has no content");
            conversation[i] = new ChatMessage(message.Role, message.Content);
        }
        if (conversation[^1].Role != ConversationMessage.User) throw Invalid("the conversation must end with the user's new message");
        if (string.IsNullOrWhiteSpace(conversation[^1].Content)) throw Invalid("the user's new message is empty");
        return conversation;
    }

    /// <summary>Greedy for no temperature or 0 (deterministic replies); sampling otherwise, with top-p and seed when given.</summary>
    public static GenerationOptions Generation(int? maxNewTokens, float? temperature, InferenceWorkerOptions options,
        SamplingParameters? sampling = null)
    {
        int tokens = maxNewTokens ?? options.DefaultMaxNewTokens;
        if (tokens < 1 || tokens > options.MaxNewTokensLimit)
            throw Invalid($"max_new_tokens must be in [1, {options.MaxNewTokensLimit}] but was {tokens}");
        if (temperature is { } t && !(float.IsFinite(t) && t >= 0 && t <= MaxTemperature))
            throw Invalid($"temperature must be in [0, {MaxTemperature}] (0 means greedy) but was {t}");
        if (sampling?.TopP is { } p && !(float.IsFinite(p) && p > 0 && p <= 1))
            throw Invalid($"top_p must be in (0, 1] but was {p}");
        StopSequences(sampling?.Stop);
        return temperature is > 0
            ? new GenerationOptions
            {
                MaxNewTokens = tokens,
                DoSample = true,
                Temperature = temperature.Value,
                TopP = sampling?.TopP ?? 1f,
                Seed = sampling?.Seed,
            }
            : GenerationOptions.Greedy(tokens);
    }

    /// <summary>The request's stop sequences: at most a few, none empty or long.</summary>
    public static IReadOnlyList<string> StopSequences(IReadOnlyList<string>? stop)
    {
        if (stop is null || stop.Count == 0) return [];
        if (stop.Count > SamplingParameters.MaxStopSequences)
            throw Invalid($"stop may hold at most {SamplingParameters.MaxStopSequences} sequences but held {stop.Count}");
        for (int i = 0; i < stop.Count; i++)
        {
            if (string.IsNullOrEmpty(stop[i])) throw Invalid($"stop sequence {i} is empty");
            if (stop[i].Length > SamplingParameters.MaxStopChars)
                throw Invalid($"stop sequence {i} has {stop[i].Length} characters; at most {SamplingParameters.MaxStopChars} are allowed");
        }
        return stop;
    }

    public static GrainCallException Invalid(string message, Exception? inner = null) => new(GrainErrorKind.InvalidRequest, message, inner);
}
