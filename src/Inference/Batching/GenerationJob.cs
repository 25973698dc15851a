using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>A generation request: prefilled, then decoded step by step until it stops.</summary>
internal sealed class GenerationJob : EngineRequest<GenerationResult>
{
    private readonly Action<int>? _onToken;

    public GenerationJob(GenerationRequest request, IEnumerable<int> eosTokenIds, Action<int>? onToken, SubmitOptions options)
        : base(request.PromptIds, request.PromptIds.Count + request.Options.MaxNewTokens, options.Priority ?? RequestPriority.Normal, options.Deadline)
    {
        Progress = new GenerationProgress(request, eosTokenIds);
        _onToken = onToken;
    }

    public override bool Decodes => true;

    public GenerationProgress Progress { get; }

    /// <summary>Chooses the next token, streams it, and answers the caller when generation stops.</summary>
    /// <returns>True while the sequence goes on decoding.</returns>
    public bool Advance(ReadOnlySpan<float> logits)
    {
        int token = Progress.Next(logits);
        if (IsDone) return false; // cancelled meanwhile: the caller wants nothing more
        try
        {
            _onToken?.Invoke(token);
        }
        catch (Exception e)
        {
            TryFail(e);
            return false;
        }
        if (Progress.Finish is null) return true;
        TrySucceed(Progress.Result);
        return false;
    }
}
