using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>
/// One sequence's generation state, with the semantics of <see cref="Generator"/>: its own
/// sampler, the tokens seen so far for the repetition penalty, and when it stops.
/// </summary>
internal sealed class GenerationProgress
{
    private readonly GenerationOptions _options;
    private readonly HashSet<int> _stopIds;
    private readonly TokenSampler _sampler;
    private readonly List<int> _seen;
    private readonly List<int> _generated = [];

    public GenerationProgress(GenerationRequest request, IEnumerable<int> eosTokenIds)
    {
        _options = request.Options;
        _stopIds = request.Options.StopTokenIds.Concat(eosTokenIds).ToHashSet();
        _sampler = new TokenSampler(request.Options);
        _seen = new List<int>(request.PromptIds);
    }

    public IReadOnlyList<int> Tokens => _generated;

    public int LastToken => _generated[^1];

    public FinishReason? Finish { get; private set; }

    /// <summary>Chooses the next token from this sequence's logits and records it.</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        if (Finish is not null) throw new InvalidOperationException("the generation has finished");
        int token = _sampler.Next(logits, _seen);
        _seen.Add(token);
        _generated.Add(token);
        if (_stopIds.Contains(token)) Finish = FinishReason.Stop;
        else if (_generated.Count >= _options.MaxNewTokens) Finish = FinishReason.Length;
        return token;
    }

    public GenerationResult Result => new(_generated.ToArray(), Finish ?? throw new InvalidOperationException("the generation has not finished"));
}
