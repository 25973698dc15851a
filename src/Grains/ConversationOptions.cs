namespace Qwen.Grains;

/// <summary>Conversation grains: configuration section <c>Conversations</c>.</summary>
public sealed record ConversationOptions
{
    public const string SectionName = "Conversations";

    /// <summary>An activation with no call for this long is deactivated; its history stays in storage.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Longest user message accepted, in UTF-16 characters.</summary>
    public int MaxMessageChars { get; init; } = 4000;

    /// <summary>Reply length when a turn does not say.</summary>
    public int MaxNewTokens { get; init; } = 64;

    public ConversationOptions Validate()
    {
        if (IdleTimeout <= TimeSpan.Zero) throw new ArgumentException($"{SectionName}: IdleTimeout must be positive but was {IdleTimeout}");
        if (MaxMessageChars < 1) throw new ArgumentException($"{SectionName}: MaxMessageChars must be at least 1 but was {MaxMessageChars}");
        if (MaxNewTokens < 1) throw new ArgumentException($"{SectionName}: MaxNewTokens must be at least 1 but was {MaxNewTokens}");
        return this;
    }
}
