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
        if (messages is null || messages.Count == 0) throw Invalid("the conversation is empty; it must end with the user's new message");
        var conversation = new ChatMessage[messages.Count];
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw Invalid($"message {i} is missing");
            if (message.Role is not (ConversationMessage.User or ConversationMessage.Assistant))
                throw Invalid($"message {i} has role '{message.Role}'; only user and assistant messages are accepted (the system message is configured)");
            if (message.Content is null) throw Invalid($"message {i} has no content");
            conversation[i] = new ChatMessage(message.Role, message.Content);
        }
        if (conversation[^1].Role != ConversationMessage.User) throw Invalid("the conversation must end with the user's new message");
        if (string.IsNullOrWhiteSpace(conversation[^1].Content)) throw Invalid("the user's new message is empty");
        return conversation;
    }

    /// <summary>Greedy for no temperature or 0 (deterministic replies); sampling otherwise.</summary>
    public static GenerationOptions Generation(int? maxNewTokens, float? temperature, InferenceWorkerOptions options)
    {
        int tokens = maxNewTokens ?? options.DefaultMaxNewTokens;
        if (tokens < 1 || tokens > options.MaxNewTokensLimit)
            throw Invalid($"max_new_tokens must be in [1, {options.MaxNewTokensLimit}] but was {tokens}");
        if (temperature is { } t && !(float.IsFinite(t) && t >= 0 && t <= MaxTemperature))
            throw Invalid($"temperature must be in [0, {MaxTemperature}] (0 means greedy) but was {t}");
        return temperature is > 0
            ? new GenerationOptions { MaxNewTokens = tokens, DoSample = true, Temperature = temperature.Value }
            : GenerationOptions.Greedy(tokens);
    }

    public static GrainCallException Invalid(string message, Exception? inner = null) => new(GrainErrorKind.InvalidRequest, message, inner);
}
