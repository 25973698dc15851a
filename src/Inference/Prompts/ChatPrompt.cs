using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Prompts;

/// <summary>
/// Builds a chat prompt that fits <c>context_window − max_new_tokens</c>: the system message and
/// the newest user message always stay; older turns are dropped whole, oldest first; a newest
/// message that alone is too long is cut from the front.
/// </summary>
public sealed class ChatPrompt
{
    private readonly BpeTokenizer _tokenizer;
    private readonly ChatTemplate _template;

    public ChatPrompt(BpeTokenizer tokenizer, ChatTemplate template, ChatPromptOptions options)
    {
        _tokenizer = tokenizer;
        _template = template;
        Options = options;
    }

    public ChatPromptOptions Options { get; }

    /// <summary>The tokens every chat prompt with the configured system message starts with: worth keeping in a prefix cache.</summary>
    public IReadOnlyList<int> SystemPrefixIds
    {
        get
        {
            string? system = Options.SystemMessage ?? _template.DefaultSystemMessage;
            return system is null ? [] : ChatTemplate.EncodeMessage(_tokenizer, ChatMessage.System(system));
        }
    }

    /// <param name="conversation">User and assistant messages, oldest first, ending with the new user message.</param>
    /// <param name="systemMessage">Overrides the configured system message for this request.</param>
    /// <exception cref="ArgumentException">The conversation is malformed, or the system message leaves no room for the user's text.</exception>
    public BuiltPrompt Build(IReadOnlyList<ChatMessage> conversation, int contextWindow, int maxNewTokens, string? systemMessage = null)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        if (conversation.Count == 0 || conversation[^1].Role != ChatMessage.UserRole)
            throw new ArgumentException("a chat conversation must end with the user's new message", nameof(conversation));
        if (conversation.FirstOrDefault(m => m.Role is not (ChatMessage.UserRole or ChatMessage.AssistantRole)) is { } odd)
            throw new ArgumentException($"the conversation may hold only user and assistant messages, not '{odd.Role}'; the system message is configured", nameof(conversation));
        int budget = contextWindow - maxNewTokens;
        if (budget <= 0)
            throw new ArgumentException($"max_new_tokens ({maxNewTokens}) leaves no room for a prompt in the context window of {contextWindow} tokens");

        string? system = systemMessage ?? Options.SystemMessage ?? _template.DefaultSystemMessage;
        int[] systemIds = system is null ? [] : ChatTemplate.EncodeMessage(_tokenizer, ChatMessage.System(system));
        int[] generation = ChatTemplate.GenerationPrompt(_tokenizer);
        var newest = conversation[^1];
        int[] newestIds = ChatTemplate.EncodeMessage(_tokenizer, newest);
        int fixedCost = systemIds.Length + generation.Length;
        var turns = Turns(conversation.Take(conversation.Count - 1).ToArray());
        int historyTokens = turns.Sum(t => t.Sum(m => m.Length));

        if (fixedCost + newestIds.Length > budget)
        {
            int overhead = ChatTemplate.EncodeMessage(_tokenizer, newest.Role, []).Length;
            int room = budget - fixedCost - overhead;
            if (room < 1)
            {
                throw new ArgumentException(
                    $"the system message and prompt framing need {fixedCost + overhead} tokens, leaving no room for the user's message in a budget of {budget} tokens (context window {contextWindow} − max_new_tokens {maxNewTokens})");
            }
            int[] content = _tokenizer.Encode(newest.Content, parseSpecialTokens: false);
            int[] kept = TokenTail.Keep(_tokenizer, content, room);
            int[] cut = ChatTemplate.EncodeMessage(_tokenizer, newest.Role, kept);
            return new BuiltPrompt([.. systemIds, .. cut, .. generation],
                new PromptTruncation(turns.Count, 0, historyTokens + content.Length - kept.Length));
        }

        // Keep the newest turns that fit, stopping at the first that does not.
        int used = fixedCost + newestIds.Length, keptTurns = 0;
        for (int t = turns.Count - 1; t >= 0; t--)
        {
            int cost = turns[t].Sum(m => m.Length);
            if (used + cost > budget) break;
            used += cost;
            keptTurns++;
        }
        var ids = new List<int>(used);
        ids.AddRange(systemIds);
        int dropped = turns.Count - keptTurns;
        foreach (var turn in turns.Skip(dropped)) foreach (var message in turn) ids.AddRange(message);
        ids.AddRange(newestIds);
        ids.AddRange(generation);
        int droppedTokens = turns.Take(dropped).Sum(t => t.Sum(m => m.Length));
        return new BuiltPrompt(ids.ToArray(), new PromptTruncation(dropped, 0, droppedTokens));
    }

    /// <summary>Encoded turns: each user message with the assistant messages after it (leading assistant messages form a turn too).</summary>
    private List<List<int[]>> Turns(IReadOnlyList<ChatMessage> history)
    {
        var turns = new List<List<int[]>>();
        foreach (var message in history)
        {
            if (message.Role == ChatMessage.UserRole || turns.Count == 0) turns.Add([]);
            turns[^1].Add(ChatTemplate.EncodeMessage(_tokenizer, message));
        }
        return turns;
    }
}
