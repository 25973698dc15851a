using Qwen.Inference.Engine;

namespace Qwen.Inference.Batching;

/// <summary>
/// Prefill on a model with prompt lanes: each model call carries up to one chunk per lane, so
/// several prompts (sentiment prompts included) are prefilled together, and the step's last
/// chunks go in the same call as the decode rows. The linears read their weights once per call
/// instead of once per prompt; each lane attends over its own slot, so nothing changes a row's bits.
/// </summary>
internal sealed partial class SlotEngineSteps
{
    /// <summary>
    /// Calls of up to one chunk per lane, prompts in line order, until this step's token budget is
    /// spent (at least one chunk runs). Every batch of chunks but the last runs here; the last is
    /// returned to go with the decode rows. Completed generations are added to <paramref name="joining"/>.
    /// </summary>
    private (int Rows, int Columns, List<LaneWork> WithDecode) RunLanePrefill(List<Member> joining, CancellationToken stopping)
    {
        int budget = _options.MaxPrefillTokensPerStep, rows = 0, columns = 0;
        bool admittedArrivals = false;
        while (true)
        {
            var batch = NextBatch(ref budget, first: rows == 0);
            if (batch.Count == 0 || IsLastBatch(batch, budget))
            {
                _group.RemoveAll(m => m.Finished);
                return (rows, columns, batch);
            }
            using (var logits = _session.StepMixed(_kv, 0, [], [], [.. batch.Select(LaneChunkOf)], stopping))
            {
                columns += CompleteChunks(batch, logits, joining, stopping);
            }
            rows += batch.Count;
            if (!admittedArrivals) admittedArrivals = AdmitArrivals(joining, ref budget);
        }
    }

    /// <summary>
    /// The next chunk of each prompt in line order, one per lane, within the budget (the first
    /// chunk of a step regardless of it). A prompt whose chunk leaves some of it for later ends the batch.
    /// </summary>
    private List<LaneWork> NextBatch(ref int budget, bool first)
    {
        var batch = new List<LaneWork>();
        while (batch.Count < _session.PromptLanes && NextMember(except: batch.Select(w => w.Member)) is { } member)
        {
            if (!(first && batch.Count == 0) && budget < 2) break;
            LookUpPrefix(member);
            var chunk = NextChunk(member, budget);
            budget -= chunk.Ids.Length;
            batch.Add(new LaneWork(member, chunk));
            if (member.Done + chunk.Width < member.Request.PromptIds.Count) break;
        }
        return batch;
    }

    /// <summary>Whether no other call could follow this batch in the step: the budget is spent or no prompt is left.</summary>
    private bool IsLastBatch(List<LaneWork> batch, int budget) =>
        budget < 2
        || batch.Any(w => w.Member.Done + w.Chunk.Width < w.Member.Request.PromptIds.Count)
        || NextMember(except: batch.Select(w => w.Member)) is null;

    private static LaneChunk LaneChunkOf(LaneWork work) =>
        new(work.Member.Slot, work.Chunk.Ids, work.Chunk.Positions, 1 + work.Chunk.CueTokens);

    /// <summary>Advances each prompt by its chunk and completes those that are done.</summary>
    /// <returns>Positions computed: the chunks' and those of steps of their own (a probe's label continuations).</returns>
    private int CompleteChunks(List<LaneWork> batch, MixedStepLogits logits, List<Member> joining, CancellationToken stopping)
    {
        int columns = 0;
        for (int k = 0; k < batch.Count; k++)
        {
            var (member, chunk) = batch[k];
            member.Done += chunk.Width;
            columns += chunk.Ids.Length;
            if (member.Done == member.Request.PromptIds.Count) columns += Complete(member, logits.Chunk(k), joining, stopping);
        }
        return columns;
    }
}
