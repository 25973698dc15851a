using System.Text;
using System.Text.Json;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Endpoints;

/// <summary>
/// A POST /v1/chat/completions request, read and checked: OpenAI's fields that this service
/// implements, the ones it accepts only at their neutral value (n = 1, zero penalties, no logprobs),
/// and a refusal naming any other field.
/// </summary>
internal sealed record ChatCompletionCall(
    string Model,
    IReadOnlyList<ConversationMessage> Messages,
    string? SystemMessage,
    GenerationParameters Parameters,
    bool Stream,
    bool IncludeUsage,
    string? User,
    bool Sentiment = false)
{
    private static readonly string[] Fields =
    [
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "stream",
        "stream_options", "user", "n", "presence_penalty", "frequency_penalty", "logprobs", "sentiment",
    ];

    private static readonly string[] MessageFields = ["role", "content", "name"];

    /// <summary>The user's newest message: the turn when the call is a conversation's.</summary>
    public string LastUserMessage => Messages[^1].Content;

    public static ChatCompletionCall Read(JsonBody body, ApiLimits limits, string modelId)
    {
        body.RejectUnknownFields(Fields);
        string model = body.RequiredString("model");
        if (model != modelId)
            throw new RequestRejectedException(StatusCodes.Status404NotFound,
                $"the model '{Shorten(model)}' does not exist; this service serves '{modelId}' (GET /v1/models)", "model", "model_not_found");
        body.OptionalInt("n", 1, 1);
        foreach (string penalty in (string[])["presence_penalty", "frequency_penalty"])
        {
            if (body.OptionalNumber(penalty, -2, 2) is { } p && p != 0)
                throw RequestRejectedException.BadRequest($"{penalty} is not supported; leave it out or set it to 0", penalty);
        }
        if (body.OptionalBool("logprobs") == true) throw RequestRejectedException.BadRequest("logprobs are not supported", "logprobs");
        var (messages, system) = ReadMessages(body, limits);
        var parameters = GenerationParameters.Read(body, limits);
        bool stream = body.OptionalBool("stream") ?? false;
        bool includeUsage = false;
        if (body.Field("stream_options") is { } streamOptions)
        {
            if (!stream) throw RequestRejectedException.BadRequest("stream_options is only allowed with stream: true", "stream_options");
            if (streamOptions.ValueKind != JsonValueKind.Object) throw JsonBody.WrongType("stream_options", "an object", streamOptions);
            foreach (var option in streamOptions.EnumerateObject())
            {
                if (option.Name != "include_usage")
                    throw RequestRejectedException.BadRequest($"unknown field 'stream_options.{Shorten(option.Name)}'; only 'include_usage' is accepted", "stream_options");
                if (option.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                    throw JsonBody.WrongType("stream_options.include_usage", "a boolean", option.Value);
                includeUsage = option.Value.ValueKind == JsonValueKind.True;
            }
        }
        string? user = body.OptionalString("user");
        if (user is not null) ConversationEndpoints.CheckUserId(user);
        // This service's extension: the sentiment of the turn's message, judged from the reply's prompt.
        bool sentiment = body.OptionalBool("sentiment") ?? false;
        if (sentiment && user is null)
            throw RequestRejectedException.BadRequest(
                "sentiment: true needs a user: it is the sentiment of a turn of that user's conversation", "sentiment");
        return new ChatCompletionCall(model, messages, system, parameters, stream, includeUsage, user, sentiment);
    }

    /// <summary>User and assistant messages in order, ending with a user message; system (and developer) messages joined.</summary>
    private static (IReadOnlyList<ConversationMessage> Messages, string? System) ReadMessages(JsonBody body, ApiLimits limits)
    {
        var value = body.Field("messages") ?? throw RequestRejectedException.BadRequest("the field 'messages' is required", "messages");
        if (value.ValueKind != JsonValueKind.Array) throw JsonBody.WrongType("messages", "an array of messages", value);
        int count = value.GetArrayLength();
        if (count == 0) throw RequestRejectedException.BadRequest("the field 'messages' is empty; it must end with a user message", "messages");
        if (count > limits.MaxChatMessages)
            throw RequestRejectedException.BadRequest($"the field 'messages' holds {count} messages; at most {limits.MaxChatMessages} are allowed", "messages");
        var conversation = new List<ConversationMessage>(count);
        var system = new List<string>();
        int totalChars = 0, index = 0;
        foreach (var message in value.EnumerateArray())
        {
            string name = $"messages[{index++}]";
            if (message.ValueKind != JsonValueKind.Object) throw JsonBody.WrongType(name, "an object", message);
            foreach (var property in message.EnumerateObject())
            {
                if (!MessageFields.Contains(property.Name))
                    throw RequestRejectedException.BadRequest($"unknown field '{name}.{Shorten(property.Name)}'; a message accepts 'role', 'content' and 'name'", "messages");
            }
            string role = message.TryGetProperty("role", out var r) ? JsonBody.AsString(r, $"{name}.role")
                : throw RequestRejectedException.BadRequest($"the field '{name}.role' is required", "messages");
            string content = TextRules.Check(Content(message, name, role), $"{name}.content", limits.MaxMessageChars, allowBlank: role != "user");
            totalChars += content.Length;
            if (totalChars > limits.MaxChatChars)
                throw RequestRejectedException.BadRequest($"the messages have more than {limits.MaxChatChars} characters together", "messages");
            switch (role)
            {
                case "system" or "developer":
                    system.Add(content);
                    break;
                case "user":
                    conversation.Add(new ConversationMessage(ConversationMessage.User, content));
                    break;
                case "assistant":
                    conversation.Add(new ConversationMessage(ConversationMessage.Assistant, content));
                    break;
                default:
                    throw RequestRejectedException.BadRequest(
                        $"the role '{Shorten(role)}' of {name} is not supported; use system, developer, user or assistant", "messages");
            }
        }
        if (conversation.Count == 0 || conversation[^1].Role != ConversationMessage.User)
            throw RequestRejectedException.BadRequest("the last message (other than system messages) must be the user's", "messages");
        return (conversation, system.Count == 0 ? null : string.Join("\n", system));
    }

    /// <summary>A string, or an array of text parts (<c>{"type":"text","text":"..."}</c>) joined; null only for an assistant.</summary>
    private static string Content(JsonElement message, string name, string role)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            return role == "assistant" ? "" : throw RequestRejectedException.BadRequest($"the field '{name}.content' is required", "messages");
        }
        if (content.ValueKind == JsonValueKind.String) return JsonBody.AsString(content, $"{name}.content");
        if (content.ValueKind != JsonValueKind.Array) throw JsonBody.WrongType($"{name}.content", "a string or an array of text parts", content);
        var text = new StringBuilder();
        int part = 0;
        foreach (var item in content.EnumerateArray())
        {
            string partName = $"{name}.content[{part++}]";
            if (item.ValueKind != JsonValueKind.Object) throw JsonBody.WrongType(partName, "an object", item);
            string type = item.TryGetProperty("type", out var t) ? JsonBody.AsString(t, $"{partName}.type") : "";
            if (type != "text")
                throw RequestRejectedException.BadRequest($"{partName} has type '{Shorten(type)}'; only text parts are supported", "messages");
            text.Append(item.TryGetProperty("text", out var partText) ? JsonBody.AsString(partText, $"{partName}.text")
                : throw RequestRejectedException.BadRequest($"the field '{partName}.text' is required", "messages"));
        }
        return text.ToString();
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
