using Qwen.Inference.Engine;

namespace Qwen.Inference.Generation;

/// <summary>
/// Generates tokens for a batch of prompts with Hugging Face generate semantics: one
/// left-padded prefill, then one decode step per token for the whole batch, each sequence
/// choosing its own next token with its own <see cref="TokenSampler"/>.
/// </summary>
public sealed class Generator
{
    private readonly DecoderSession _session;

    public Generator(DecoderSession session) => _session = session;

    public GenerationResult Generate(IReadOnlyList<int> promptIds, GenerationOptions options,
        Action<int>? onToken = null, CancellationToken cancellationToken = default) =>
        GenerateBatch([new GenerationRequest(promptIds, options)], onToken is null ? null : (_, token) => onToken(token), cancellationToken)[0];

    /// <param name="onToken">Called with (request index, token id) as soon as each token is chosen.</param>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<GenerationRequest> requests,
        Action<int, int>? onToken = null, CancellationToken cancellationToken = default)
    {
        if (requests.Count == 0) return [];
        foreach (var request in requests) RequestValidation.Generation(_session, request);
        int batch = requests.Count;
        var stopIds = requests.Select(r => r.Options.StopTokenIds.Concat(_session.Model.EosTokenIds).ToHashSet()).ToArray();
        var samplers = requests.Select(r => new TokenSampler(r.Options)).ToArray();
        var seen = requests.Select(r => new List<int>(r.PromptIds)).ToArray();
        var generated = requests.Select(_ => new List<int>()).ToArray();
        var finish = new FinishReason?[batch];
        var realLength = requests.Select(r => r.PromptIds.Count).ToArray();

        if (_session.Io.SharedKvBuffer)
        {
            GenerateInSlots(requests, samplers, seen, generated, finish, stopIds, onToken, cancellationToken);
            return generated.Select((tokens, b) => new GenerationResult(tokens, finish[b]!.Value)).ToArray();
        }

        var layout = new BatchLayout(requests.Select(r => r.PromptIds).ToArray());
        using var cache = _session.CreateCache(batch);
        long[] mask = layout.AttentionMask;
        long[] ids = layout.InputIds, positions = layout.PositionIds;
        int sequenceLength = layout.Length;
        var nextIds = new long[batch];
        var nextPositions = new long[batch];
        var ones = Enumerable.Repeat(1L, batch).ToArray();

        while (finish.Any(f => f is null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using (var logits = _session.Step(ids, mask, positions, sequenceLength, cache, 1, cancellationToken))
            {
                for (int b = 0; b < batch; b++)
                {
                    if (finish[b] is not null) continue;
                    int token = samplers[b].Next(logits.Last(b), seen[b]);
                    seen[b].Add(token);
                    generated[b].Add(token);
                    onToken?.Invoke(b, token);
                    if (stopIds[b].Contains(token)) finish[b] = FinishReason.Stop;
                    else if (generated[b].Count >= requests[b].Options.MaxNewTokens) finish[b] = FinishReason.Length;
                }
            }
            if (finish.All(f => f is not null)) break;
            for (int b = 0; b < batch; b++)
            {
                // A finished sequence keeps stepping with its last token at its last position
                // until the batch is done; its outputs are ignored and it cannot affect others.
                nextIds[b] = generated[b][^1];
                nextPositions[b] = finish[b] is null ? realLength[b]++ : realLength[b] - 1;
            }
            ids = nextIds;
            positions = nextPositions;
            sequenceLength = 1;
            mask = BatchLayout.ExtendMask(mask, batch, ones);
        }
        return generated.Select((tokens, b) => new GenerationResult(tokens, finish[b]!.Value)).ToArray();
    }

    /// <summary>
    /// The same on a shared-buffer model: each prompt prefilled alone into its own slot, then one
    /// in-place decode step per token for all rows (a finished row keeps stepping, ignored).
    /// </summary>
    private void GenerateInSlots(IReadOnlyList<GenerationRequest> requests, TokenSampler[] samplers, List<int>[] seen, List<int>[] generated,
        FinishReason?[] finish, HashSet<int>[] stopIds, Action<int, int>? onToken, CancellationToken cancellationToken)
    {
        int batch = requests.Count;
        using var cache = _session.CreateSlotCache();
        cache.Reserve(batch, requests.Max(r => r.PromptIds.Count) + requests.Max(r => r.Options.MaxNewTokens));
        void Choose(int b, ReadOnlySpan<float> logits)
        {
            if (finish[b] is not null) return;
            int token = samplers[b].Next(logits, seen[b]);
            seen[b].Add(token);
            generated[b].Add(token);
            onToken?.Invoke(b, token);
            if (stopIds[b].Contains(token)) finish[b] = FinishReason.Stop;
            else if (generated[b].Count >= requests[b].Options.MaxNewTokens) finish[b] = FinishReason.Length;
        }
        for (int b = 0; b < batch; b++)
        {
            // Whole, unless that is not an exact cut (PromptChunking): then as the batching engine would cut it.
            var prompt = requests[b].PromptIds;
            int done = 0;
            foreach (int width in PromptChunking.Widths(prompt.Count, prompt.Count))
            {
                using var logits = _session.StepSlots(prompt.Skip(done).Take(width).Select(t => (long)t).ToArray(),
                    Enumerable.Range(done, width).Select(p => (long)p).ToArray(), width, cache, b, 1, 1, cancellationToken);
                done += width;
                if (done == prompt.Count) Choose(b, logits.Last(0));
            }
        }
        var ids = new long[batch];
        var positions = new long[batch];
        while (finish.Any(f => f is null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (int b = 0; b < batch; b++)
            {
                ids[b] = generated[b][^1];
                positions[b] = Math.Min(cache.LengthOf(b), requests[b].PromptIds.Count + generated[b].Count - 1);
            }
            using var logits = _session.StepSlots(ids, positions, 1, cache, 0, batch, 1, cancellationToken);
            for (int b = 0; b < batch; b++) Choose(b, logits.Last(b));
        }
    }
}
