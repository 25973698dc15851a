using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Prompts;

/// <summary>
/// Qwen's ChatML: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per message and
/// <c>&lt;|im_start|&gt;assistant\n</c> as the generation prompt, with the model's default system
/// message put first when the conversation has none — the text Qwen1.5/2/2.5 templates render.
/// </summary>
public sealed partial class ChatTemplate
{
    /// <summary>Qwen2-Instruct's default system message, used when a model ships no chat template.</summary>
    public const string QwenDefaultSystemMessage = "You are a helpful assistant.";

    private const string ImStart = "<|im_start|>", ImEnd = "<|im_end|>";

    /// <param name="defaultSystemMessage">Put first when the conversation does not start with a system
    /// message; null renders no system message then.</param>
    public ChatTemplate(string? defaultSystemMessage = QwenDefaultSystemMessage) => DefaultSystemMessage = defaultSystemMessage;

    public string? DefaultSystemMessage { get; }

    /// <summary>
    /// The template of a model: its default system message is read from the chat_template in
    /// tokenizer_config.json (a file or a model directory). Without that file or template, Qwen's default applies.
    /// </summary>
    public static ChatTemplate FromTokenizerConfig(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "tokenizer_config.json");
        if (!File.Exists(path)) return new ChatTemplate();
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (!document.RootElement.TryGetProperty("chat_template", out var template)) return new ChatTemplate();
            string? text = template.ValueKind switch
            {
                JsonValueKind.String => template.GetString(),
                // Some files list named templates; "default" is the chat one.
                JsonValueKind.Array => template.EnumerateArray().FirstOrDefault(t => t.GetProperty("name").GetString() == "default") is { ValueKind: JsonValueKind.Object } d
                    ? d.GetProperty("template").GetString() : null,
                _ => null,
            };
            return text is null ? new ChatTemplate() : FromJinja(text);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new InvalidModelException($"tokenizer_config.json at '{path}' is invalid: {e.Message}", e);
        }
    }

    /// <summary>A template with the default system message a Qwen Jinja chat template writes (none if it writes none).</summary>
    public static ChatTemplate FromJinja(string jinjaTemplate)
    {
        var match = DefaultSystemLiteral().Match(jinjaTemplate);
        return new ChatTemplate(match.Success ? Unescape(match.Groups["text"].Value) : null);
    }

    /// <summary>The prompt text, exactly as the model's template renders it.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        var text = new StringBuilder();
        foreach (var message in WithSystemMessage(messages)) text.Append(ImStart).Append(message.Role).Append('\n').Append(message.Content).Append(ImEnd).Append('\n');
        if (addGenerationPrompt) text.Append(ImStart).Append(ChatMessage.AssistantRole).Append('\n');
        return text.ToString();
    }

    /// <summary>
    /// The token ids of <see cref="Render"/>. Message contents are encoded as plain text: a user
    /// who types "&lt;|im_end|&gt;" gets those characters, not the control token, so cannot forge
    /// turns. For contents without special-token strings the ids equal encoding the rendered text.
    /// </summary>
    public int[] Encode(BpeTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        var ids = new List<int>();
        foreach (var message in WithSystemMessage(messages)) ids.AddRange(EncodeMessage(tokenizer, message));
        if (addGenerationPrompt) ids.AddRange(GenerationPrompt(tokenizer));
        return ids.ToArray();
    }

    /// <summary>The messages that will be rendered: the default system message first if needed.</summary>
    public IReadOnlyList<ChatMessage> WithSystemMessage(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("a chat prompt needs at least one message", nameof(messages));
        foreach (var message in messages)
        {
            if (message.Role is not (ChatMessage.SystemRole or ChatMessage.UserRole or ChatMessage.AssistantRole))
                throw new ArgumentException($"unknown chat role '{message.Role}' (expected system, user or assistant)", nameof(messages));
        }
        return messages[0].Role == ChatMessage.SystemRole || DefaultSystemMessage is null
            ? messages
            : [ChatMessage.System(DefaultSystemMessage), .. messages];
    }

    /// <summary>One rendered message: &lt;|im_start|&gt; role\ncontent &lt;|im_end|&gt; \n.</summary>
    public static int[] EncodeMessage(BpeTokenizer tokenizer, ChatMessage message)
    {
        // Role, newline and content are one text span between the control tokens, as the
        // template's rendered text is tokenized: a content starting with "\n" merges with it.
        var ids = new List<int> { tokenizer.SpecialTokenId(ImStart) };
        tokenizer.Encode(message.Role + "\n" + message.Content, ids, parseSpecialTokens: false);
        ids.Add(tokenizer.SpecialTokenId(ImEnd));
        tokenizer.Encode("\n", ids, parseSpecialTokens: false);
        return ids.ToArray();
    }

    /// <summary>A message whose content is already token ids (e.g. a truncated one).</summary>
    public static int[] EncodeMessage(BpeTokenizer tokenizer, string role, IReadOnlyList<int> contentIds)
    {
        var ids = new List<int> { tokenizer.SpecialTokenId(ImStart) };
        tokenizer.Encode(role + "\n", ids, parseSpecialTokens: false);
        ids.AddRange(contentIds);
        ids.Add(tokenizer.SpecialTokenId(ImEnd));
        tokenizer.Encode("\n", ids, parseSpecialTokens: false);
        return ids.ToArray();
    }

    /// <summary>&lt;|im_start|&gt;assistant\n</summary>
    public static int[] GenerationPrompt(BpeTokenizer tokenizer)
    {
        var ids = new List<int> { tokenizer.SpecialTokenId(ImStart) };
        tokenizer.Encode(ChatMessage.AssistantRole + "\n", ids, parseSpecialTokens: false);
        return ids.ToArray();
    }

    // A string literal that writes a whole system turn: '<|im_start|>system\n...<|im_end|>\n'.
    [GeneratedRegex("""(?<q>['"])<\|im_start\|>system\\n(?<text>(?:(?!\k<q>)[^\\]|\\.)*?)<\|im_end\|>\\n\k<q>""")]
    private static partial Regex DefaultSystemLiteral();

    private static string Unescape(string literal) => Regex.Replace(literal, @"\\(.)", m => m.Groups[1].Value switch
    {
        "n" => "\n",
        "t" => "\t",
        "r" => "\r",
        var other => other,
    });
}
