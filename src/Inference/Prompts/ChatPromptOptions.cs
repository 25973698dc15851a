namespace Qwen.Inference.Prompts;

/// <summary>The chat task's prompt: configuration section <c>Prompts:Chat</c>.</summary>
public sealed record ChatPromptOptions
{
    public const string SectionName = "Prompts:Chat";

    /// <summary>The system message of every conversation; null uses the model template's default.</summary>
    public string? SystemMessage { get; init; } =
        "You are a friendly and helpful assistant. Answer clearly and kindly, in the language the user writes in.";
}
