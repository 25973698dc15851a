namespace Qwen.Inference.Prompts;

/// <summary>The sentiment task's prompt: configuration section <c>Prompts:Sentiment</c>.</summary>
public sealed record SentimentPromptOptions
{
    public const string SectionName = "Prompts:Sentiment";

    /// <summary>The system message; it must make the model answer with one of the two labels.</summary>
    public string SystemInstruction { get; init; } =
        "你是一个情感分析助手。判断用户给出的文本的情感倾向，只回答一个词：正面 或 负面。";

    /// <summary>The answer that means positive, scored as the assistant's first words.</summary>
    public string PositiveLabel { get; init; } = "正面";

    /// <summary>The answer that means negative.</summary>
    public string NegativeLabel { get; init; } = "负面";

    /// <summary>
    /// The sentiment of a chat turn's user message is asked of the chat prompt itself: this cue
    /// is fed after the prompt's <c>&lt;|im_start|&gt;assistant\n</c> and the two labels are scored
    /// after it, then the cue is dropped and the reply continues from the prompt (see
    /// docs/tokenizer-and-prompts.md, "The combined turn").
    /// </summary>
    public string TurnCue { get; init; } = "情感判断：";

    /// <summary>Most tokens of the input text; a longer text keeps its last clauses.</summary>
    public int MaxInputTokens { get; init; } = 256;

    public SentimentPromptOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(SystemInstruction)) throw new ArgumentException($"{SectionName}:SystemInstruction must not be empty");
        if (string.IsNullOrEmpty(PositiveLabel) || string.IsNullOrEmpty(NegativeLabel) || PositiveLabel == NegativeLabel)
            throw new ArgumentException($"{SectionName}: PositiveLabel and NegativeLabel must be two different non-empty answers");
        if (string.IsNullOrEmpty(TurnCue)) throw new ArgumentException($"{SectionName}:TurnCue must not be empty");
        if (MaxInputTokens < 1) throw new ArgumentException($"{SectionName}:MaxInputTokens must be at least 1 but was {MaxInputTokens}");
        return this;
    }
}
