using Qwen.Inference.Engine;

namespace Qwen.Inference.Generation;

/// <summary>The checks a generation or scoring request must pass before any model work, shared by every way of running one.</summary>
internal static class RequestValidation
{
    public static void Generation(DecoderSession session, GenerationRequest request)
    {
        request.Options.Validate(session.VocabSize);
        int length = request.PromptIds.Count;
        if (length == 0) throw new ArgumentException("the prompt is empty; at least one token is needed");
        foreach (int id in request.PromptIds)
        {
            if (id < 0 || id >= session.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(request), $"prompt token id {id} is outside the vocabulary [0, {session.VocabSize})");
        }
        if (length + request.Options.MaxNewTokens > session.ContextWindow)
        {
            throw new ArgumentException(
                $"the prompt has {length} tokens and max_new_tokens is {request.Options.MaxNewTokens}: together more than the context window of {session.ContextWindow} tokens");
        }
        if (request.Probe is { } probe)
        {
            if (probe.CueIds.Count == 0) throw new ArgumentException("a label probe needs at least one cue token");
            Scoring(session, [probe.PromptWithCue(request.PromptIds)], probe.Labels);
        }
    }

    public static void Scoring(DecoderSession session, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<IReadOnlyList<int>> labels)
    {
        if (prompts.Count == 0) throw new ArgumentException("no prompt to score");
        if (labels.Count < 2) throw new ArgumentException("label scoring needs at least two candidate labels");
        int vocab = session.VocabSize;
        foreach (var label in labels)
        {
            if (label.Count == 0) throw new ArgumentException("a candidate label has no tokens");
            if (label.Any(id => id < 0 || id >= vocab)) throw new ArgumentOutOfRangeException(nameof(labels), $"a label token id is outside the vocabulary [0, {vocab})");
        }
        int longest = labels.Max(l => l.Count);
        foreach (var prompt in prompts)
        {
            if (prompt.Count == 0) throw new ArgumentException("the prompt is empty; at least one token is needed");
            if (prompt.Any(id => id < 0 || id >= vocab)) throw new ArgumentOutOfRangeException(nameof(prompts), $"a prompt token id is outside the vocabulary [0, {vocab})");
            if (prompt.Count + longest > session.ContextWindow)
                throw new ArgumentException($"the prompt has {prompt.Count} tokens: with the longest label that exceeds the context window of {session.ContextWindow} tokens");
        }
    }
}
