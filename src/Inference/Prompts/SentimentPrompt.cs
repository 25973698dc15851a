using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Prompts;

/// <summary>
/// Builds the sentiment prompt: the configured instruction as system message, the input as the
/// user message, then the generation prompt, after which the labels are scored. An input over
/// its token budget keeps its last complete clauses that fit; a last clause that alone is too
/// long is cut from the front.
/// </summary>
public sealed class SentimentPrompt
{
    private readonly BpeTokenizer _tokenizer;
    private readonly int[] _systemIds;
    private readonly int[] _generationPromptIds;

    public SentimentPrompt(BpeTokenizer tokenizer, SentimentPromptOptions options)
    {
        _tokenizer = tokenizer;
        Options = options.Validate();
        _systemIds = ChatTemplate.EncodeMessage(tokenizer, ChatMessage.System(options.SystemInstruction));
        _generationPromptIds = ChatTemplate.GenerationPrompt(tokenizer);
        PositiveLabelIds = tokenizer.Encode(options.PositiveLabel, parseSpecialTokens: false);
        NegativeLabelIds = tokenizer.Encode(options.NegativeLabel, parseSpecialTokens: false);
        TurnCueIds = tokenizer.Encode(options.TurnCue, parseSpecialTokens: false);
    }

    public SentimentPromptOptions Options { get; }

    /// <summary>The tokens every sentiment prompt starts with (the system message): worth keeping in a prefix cache.</summary>
    public IReadOnlyList<int> SystemPrefixIds => _systemIds;
    public IReadOnlyList<int> PositiveLabelIds { get; }
    public IReadOnlyList<int> NegativeLabelIds { get; }

    /// <summary>The cue fed after a chat prompt before the labels are scored there (<see cref="SentimentPromptOptions.TurnCue"/>).</summary>
    public IReadOnlyList<int> TurnCueIds { get; }

    public BuiltPrompt Build(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text)) throw new ArgumentException("the text to classify is empty");
        var (kept, truncation) = FitInput(text);
        int[] user = ChatTemplate.EncodeMessage(_tokenizer, ChatMessage.UserRole, kept);
        return new BuiltPrompt([.. _systemIds, .. user, .. _generationPromptIds], truncation);
    }

    /// <summary>The input's content token ids within the budget, and what was dropped.</summary>
    public (int[] Ids, PromptTruncation Truncation) FitInput(string text)
    {
        int budget = Options.MaxInputTokens;
        int[] all = _tokenizer.Encode(text, parseSpecialTokens: false);
        if (all.Length <= budget) return (all, PromptTruncation.None);

        var clauses = ClauseSplitter.Split(text);
        int[]? best = null;
        int kept = 0;
        for (int k = 1; k <= clauses.Count; k++)
        {
            int[] ids = _tokenizer.Encode(string.Concat(clauses.Skip(clauses.Count - k)).TrimStart(), parseSpecialTokens: false);
            if (ids.Length > budget) break;
            (best, kept) = (ids, k);
        }
        // The last clause alone is over the budget: keep its end.
        best ??= TokenTail.Keep(_tokenizer, _tokenizer.Encode(clauses[^1].TrimStart(), parseSpecialTokens: false), budget);
        return (best, new PromptTruncation(0, clauses.Count - kept, all.Length - best.Length));
    }
}
