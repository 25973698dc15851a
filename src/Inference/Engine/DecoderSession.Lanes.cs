using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Qwen.Inference.Engine;

/// <summary>Several tokens of one sequence, appended to its slot in one of the model's prompt lanes.</summary>
/// <param name="LogitsToKeep">Trailing positions that need logits (0 = all).</param>
public sealed record LaneChunk(int Slot, long[] Ids, long[] Positions, int LogitsToKeep = 1);

public sealed partial class DecoderSession
{
    /// <summary>The model's prompt lanes (<see cref="DecoderIo.Lanes"/>): prompt chunks one model call can carry beside its decode rows.</summary>
    public int PromptLanes => Io.Lanes.Count;

    /// <summary>
    /// One forward pass of a model with prompt lanes: one token for each decode row in slots
    /// [<paramref name="decodeFirstSlot"/>, + rows) and each chunk's tokens appended to its own
    /// slot, in one call that reads the weights once. Each row attends over its own slot only,
    /// so every row computes what it computes alone.
    /// </summary>
    public MixedStepLogits StepMixed(SlotKvCache cache, int decodeFirstSlot, long[] decodeIds, long[] decodePositions,
        IReadOnlyList<LaneChunk> chunks, CancellationToken cancellationToken = default)
    {
        var run = RunLanes(cache, decodeFirstSlot, decodeIds, decodePositions, chunks, cancellationToken);
        return new MixedStepLogits(run.Logits, run.ChunkRows, run.ChunkKept);
    }

    /// <summary>The logits of a lane call, [1, rows, vocab] (the decode rows first, in order), and where each chunk's lie in them.</summary>
    private sealed record LaneRun(OrtValue Logits, int[] ChunkRows, int[] ChunkKept);

    /// <remarks>
    /// GroupQueryAttention takes no empty input: the graph gives an empty part (no decode rows, a
    /// lane without a chunk) one zero token to attend with instead, and this binds that part's KV
    /// to a scratch slot of one position, so the token writes nowhere that matters. The linears
    /// never see it.
    /// </remarks>
    private LaneRun RunLanes(SlotKvCache cache, int decodeFirstSlot, long[] decodeIds, long[] decodePositions, IReadOnlyList<LaneChunk> chunks,
        CancellationToken cancellationToken)
    {
        int lanes = Io.Lanes.Count, rows = decodeIds.Length;
        if (lanes == 0) throw new InvalidOperationException("this model has no prompt lanes; use StepSlots");
        if (chunks.Count > lanes) throw new ArgumentException($"{chunks.Count} chunks but the model has {lanes} prompt lanes", nameof(chunks));
        if (decodePositions.Length != rows) throw new ArgumentException("every decode row needs a position", nameof(decodePositions));
        ValidateTokens(decodeIds, decodePositions);
        var slots = new HashSet<int>(Enumerable.Range(decodeFirstSlot, rows));
        var kept = new int[chunks.Count];
        for (int k = 0; k < chunks.Count; k++)
        {
            var chunk = chunks[k];
            if (chunk.Ids.Length < 1 || chunk.Positions.Length != chunk.Ids.Length)
                throw new ArgumentException("a chunk needs at least one token, each with a position", nameof(chunks));
            if (!slots.Add(chunk.Slot)) throw new ArgumentException($"slot {chunk.Slot} appears twice in one call", nameof(chunks));
            ValidateTokens(chunk.Ids, chunk.Positions);
            CheckRoom(cache, chunk.Slot, chunk.Ids.Length);
            kept[k] = Io.Lanes[k].LogitsToKeep is null || chunk.LogitsToKeep <= 0 ? chunk.Ids.Length : Math.Min(chunk.LogitsToKeep, chunk.Ids.Length);
        }
        for (int r = 0; r < rows; r++) CheckRoom(cache, decodeFirstSlot + r, 1);

        // Logits rows: the decode rows, then each chunk's kept positions in lane order.
        var chunkRows = new int[chunks.Count];
        int logitRows = rows;
        for (int k = 0; k < chunks.Count; k++)
        {
            chunkRows[k] = logitRows;
            logitRows += kept[k];
        }

        var scratch = Interlocked.Exchange(ref _scratch, null) ?? NewScratch();
        scratch.SetLength(0, 0);
        // An empty part's zero token is the only position of its scratch slot: seqlens_k 0, total 1.
        var seqlens = rows > 0 ? new int[rows] : [0];
        int total = 1;
        for (int r = 0; r < rows; r++)
        {
            seqlens[r] = cache.LengthOf(decodeFirstSlot + r);
            total = Math.Max(total, seqlens[r] + 1);
        }

        var names = new List<string>(4 + 5 * lanes + 2 * Io.Layers * (lanes + 1));
        var inputs = new List<OrtValue>(names.Capacity);
        var outputs = new List<OrtValue>(1 + 2 * Io.Layers * (lanes + 1));
        var owned = new List<OrtValue>(4 + 5 * lanes);
        var views = new List<OrtValue>(2 * Io.Layers * (lanes + 1));
        void Add(string name, OrtValue value, bool own)
        {
            names.Add(name);
            inputs.Add(value);
            if (own) owned.Add(value);
        }
        // The present outputs are the past inputs: ORT writes the new positions in place.
        (OrtValue[] Keys, OrtValue[] Values) View(SlotKvCache source, int first, int count)
        {
            var view = source.Views(first, count);
            views.AddRange(view.Keys);
            views.AddRange(view.Values);
            outputs.AddRange(view.Keys);
            outputs.AddRange(view.Values);
            return view;
        }
        OrtValue? logits = null;
        try
        {
            logits = OrtValue.CreateAllocatedTensorValue(_logitsAllocator, TensorElementType.Float, [1, logitRows, VocabSize]);
            outputs.Add(logits);
            Add(Io.InputIds, Tensor(decodeIds, rows, 1), true);
            Add(Io.PositionIds!, Tensor(decodePositions, rows, 1), true);
            Add(Io.SeqlensK!, OrtValue.CreateTensorValueFromMemory(seqlens, [seqlens.Length]), true);
            Add(Io.TotalSequenceLength!, OrtValue.CreateTensorValueFromMemory(new[] { total }, []), true);
            var (keys, values) = rows > 0 ? View(cache, decodeFirstSlot, rows) : View(scratch, 0, 1);
            for (int l = 0; l < Io.Layers; l++)
            {
                Add(Io.PastKeys[l], keys[l], false);
                Add(Io.PastValues[l], values[l], false);
            }
            for (int k = 0; k < lanes; k++)
            {
                var io = Io.Lanes[k];
                var chunk = k < chunks.Count ? chunks[k] : null;
                long[] ids = chunk?.Ids ?? [], positions = chunk?.Positions ?? [];
                int length = chunk is null ? 1 : cache.LengthOf(chunk.Slot) + ids.Length;
                Add(io.InputIds, Tensor(ids, 1, ids.Length), true);
                Add(io.PositionIds, Tensor(positions, 1, ids.Length), true);
                Add(io.SeqlensK, OrtValue.CreateTensorValueFromMemory(new[] { length - 1 }, [1]), true);
                Add(io.TotalSequenceLength, OrtValue.CreateTensorValueFromMemory(new[] { length }, []), true);
                if (io.LogitsToKeep is { } keep) Add(keep, OrtValue.CreateTensorValueFromMemory(new[] { chunk is null ? 0L : kept[k] }, []), true);
                var (laneKeys, laneValues) = chunk is null ? View(scratch, 0, 1) : View(cache, chunk.Slot, 1);
                for (int l = 0; l < Io.Layers; l++)
                {
                    Add(io.PastKeys[l], laneKeys[l], false);
                    Add(io.PastValues[l], laneValues[l], false);
                }
            }
            _session.RunInto(names, inputs, _outputNames, outputs, cancellationToken);
            for (int r = 0; r < rows; r++) cache.SetLength(decodeFirstSlot + r, seqlens[r] + 1);
            foreach (var chunk in chunks) cache.SetLength(chunk.Slot, cache.LengthOf(chunk.Slot) + chunk.Ids.Length);
            var result = new LaneRun(logits, chunkRows, kept);
            logits = null;
            return result;
        }
        finally
        {
            logits?.Dispose();
            foreach (var v in owned.Concat(views)) v.Dispose();
            if (Interlocked.CompareExchange(ref _scratch, scratch, null) is not null) scratch.Dispose();
        }
    }

    private static void CheckRoom(SlotKvCache cache, int slot, int tokens)
    {
        int length = cache.LengthOf(slot) + tokens;
        if (length > cache.Capacity)
            throw new ArgumentException($"slot {slot} would hold {length} positions but the cache has room for {cache.Capacity}");
    }

    /// <summary>One slot of one position: where placeholder tokens write their KV.</summary>
    private SlotKvCache NewScratch()
    {
        var scratch = new SlotKvCache(Io.Layers, Config.NumKeyValueHeads, Config.HeadDim, Io.KvType);
        scratch.Reserve(1, 1);
        return scratch;
    }
}
