namespace Qwen.Inference.Generation;

/// <summary>One sequence to generate: its prompt token ids and its options.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptIds, GenerationOptions Options)
{
    /// <summary>Labels to score after the prompt before the reply starts (null: none); see <see cref="LabelProbe"/>.</summary>
    public LabelProbe? Probe { get; init; }
}

public enum FinishReason
{
    /// <summary>A stop or end-of-sequence token was produced (it is the last token).</summary>
    Stop,

    /// <summary>max_new_tokens was reached.</summary>
    Length,
}

/// <summary>The generated token ids (not including the prompt) and why generation ended.</summary>
public sealed record GenerationResult(IReadOnlyList<int> Tokens, FinishReason FinishReason)
{
    /// <summary>The scores of the request's <see cref="GenerationRequest.Probe"/> labels, in its order (null without a probe).</summary>
    public IReadOnlyList<LabelScore>? ProbeScores { get; init; }
}
