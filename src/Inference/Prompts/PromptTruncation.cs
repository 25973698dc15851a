namespace Qwen.Inference.Prompts;

/// <summary>What was left out to fit a prompt into its token budget.</summary>
/// <param name="DroppedTurns">Whole older chat turns (a user message with the replies that followed it).</param>
/// <param name="DroppedClauses">Whole leading clauses of a sentiment input.</param>
/// <param name="DroppedTokens">All input tokens left out, those of dropped turns or clauses and those cut from a text's front.</param>
public sealed record PromptTruncation(int DroppedTurns, int DroppedClauses, int DroppedTokens)
{
    public static PromptTruncation None { get; } = new(0, 0, 0);

    public bool IsTruncated => DroppedTokens > 0 || DroppedTurns > 0 || DroppedClauses > 0;

    public override string ToString() => IsTruncated
        ? $"truncated: dropped {DroppedTurns} turn(s), {DroppedClauses} clause(s), {DroppedTokens} token(s)"
        : "not truncated";
}

/// <summary>A prompt's token ids and what truncation left out.</summary>
public sealed record BuiltPrompt(int[] Ids, PromptTruncation Truncation);
