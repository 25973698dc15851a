namespace Qwen.Inference.Generation;

/// <summary>
/// Decoding settings with the meaning of Hugging Face <c>generate</c>: greedy unless <see cref="DoSample"/>;
/// when sampling, the repetition penalty, temperature, top-k and top-p are applied in that order.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Upper bound for <see cref="MaxNewTokens"/>: Qwen's context length, so larger values are certainly mistakes.</summary>
    public const int MaxNewTokensLimit = 32768;

    public int MaxNewTokens { get; init; } = 64;

    /// <summary>False: greedy (argmax) decoding; the temperature, top-k and top-p are then ignored.</summary>
    public bool DoSample { get; init; }

    /// <summary>
    /// Divides the logits before sampling. Unlike Hugging Face, which rejects 0, a temperature of 0 with
    /// <see cref="DoSample"/> means greedy decoding (the limit of ever sharper distributions).
    /// </summary>
    public float Temperature { get; init; } = 1.0f;

    /// <summary>Keep only the tokens whose logit is at least the k-th largest (ties with it are kept); 0 disables.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most probable tokens whose probability reaches this mass; 1 disables.</summary>
    public float TopP { get; init; } = 1.0f;

    /// <summary>Applied to every token already in the sequence (prompt included), in greedy mode too; 1 disables.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;

    /// <summary>Token ids that end generation. Compared by reference in record equality.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Seed of the sampling random generator; null draws a fresh random seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>True when tokens are chosen by argmax: no sampling, or sampling at temperature 0.</summary>
    public bool IsGreedy => !DoSample || Temperature == 0;

    public static GenerationOptions Greedy(int maxNewTokens) => new() { MaxNewTokens = maxNewTokens };

    /// <summary>Returns this instance, or throws <see cref="InvalidGenerationOptionsException"/> for the first option out of range.</summary>
    public GenerationOptions Validate(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        ValidateSampling();
        for (int i = 0; i < StopTokenIds.Count; i++)
        {
            int id = StopTokenIds[i];
            Require(id >= 0 && id < vocabSize, nameof(StopTokenIds),
                $"must contain token ids in [0, {vocabSize}) but contained {id} at position {i}");
        }
        return this;
    }

    /// <summary>The checks that do not depend on the vocabulary.</summary>
    internal void ValidateSampling()
    {
        Require(MaxNewTokens is >= 1 and <= MaxNewTokensLimit, nameof(MaxNewTokens),
            $"must be in [1, {MaxNewTokensLimit}] but was {MaxNewTokens}");
        Require(float.IsFinite(Temperature) && Temperature >= 0, nameof(Temperature),
            $"must be finite and >= 0 (0 means greedy) but was {Temperature}");
        Require(TopK >= 0, nameof(TopK), $"must be >= 0 (0 disables top-k) but was {TopK}");
        Require(TopP > 0 && TopP <= 1, nameof(TopP), $"must be in (0, 1] (1 disables top-p) but was {TopP}");
        Require(float.IsFinite(RepetitionPenalty) && RepetitionPenalty > 0, nameof(RepetitionPenalty),
            $"must be finite and > 0 (1 disables the penalty) but was {RepetitionPenalty}");
    }

    private static void Require(bool ok, string option, string rule)
    {
        if (!ok) throw new InvalidGenerationOptionsException($"{option} {rule}.", option);
    }
}
