using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Prompts;

/// <summary>The answer of the sentiment task: "positive" or "negative", its probability, and any input truncation.</summary>
public sealed record SentimentResult(string Label, double Probability, PromptTruncation Truncation)
{
    public const string Positive = "positive";
    public const string Negative = "negative";
}

/// <summary>
/// Classifies sentiment with the chat model by prompt alone: the two configured labels are
/// scored as the assistant's answer (<see cref="LabelScorer"/>) and the likelier one wins.
/// </summary>
public sealed class SentimentClassifier
{
    private readonly SentimentPrompt _prompt;
    private readonly LabelScorer _scorer;
    private LabelProbe? _turnProbe;

    public SentimentClassifier(DecoderSession session, BpeTokenizer tokenizer, SentimentPromptOptions options)
    {
        _prompt = new SentimentPrompt(tokenizer, options);
        _scorer = new LabelScorer(session);
    }

    /// <summary>The prompt builder, for callers that score <see cref="Labels"/> elsewhere (a batching engine).</summary>
    public SentimentPrompt Prompt => _prompt;

    /// <summary>The candidate labels' token ids: positive, then negative.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Labels => [_prompt.PositiveLabelIds, _prompt.NegativeLabelIds];

    /// <summary>
    /// The same labels asked of a chat prompt (one that ends with the generation prompt): the turn
    /// cue fed after it, the labels scored there. Its scores give the answer through <see cref="FromScores"/>.
    /// </summary>
    public LabelProbe TurnProbe => _turnProbe ??= new LabelProbe(_prompt.TurnCueIds, Labels);

    public SentimentResult Classify(string text, CancellationToken cancellationToken = default) =>
        ClassifyBatch([text], cancellationToken)[0];

    /// <summary>Classifies several texts in one batched model step.</summary>
    public IReadOnlyList<SentimentResult> ClassifyBatch(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        var prompts = texts.Select(_prompt.Build).ToArray();
        var scores = _scorer.ScoreBatch(prompts.Select(p => (IReadOnlyList<int>)p.Ids).ToArray(), Labels, cancellationToken);
        return prompts.Select((prompt, i) => FromScores(scores[i], prompt.Truncation)).ToArray();
    }

    /// <summary>The answer from the scores of <see cref="Labels"/>: the likelier label and its probability.</summary>
    public static SentimentResult FromScores(IReadOnlyList<LabelScore> scores, PromptTruncation truncation)
    {
        double positive = scores[0].Probability;
        return positive >= 0.5
            ? new SentimentResult(SentimentResult.Positive, positive, truncation)
            : new SentimentResult(SentimentResult.Negative, 1 - positive, truncation);
    }
}
