using System.Diagnostics;
using Qwen.Inference.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Qwen.Inference.Engine;

/// <summary>
/// One loaded Qwen decoder: the ONNX Runtime session plus what was learned about its I/O.
/// <see cref="Step"/> runs one forward pass for a batch (prefill or decode) and advances the
/// KV cache. Thread-safe: many steps with different caches may run at once.
/// </summary>
public sealed partial class DecoderSession : IDisposable
{
    private readonly OrtSession _session;
    private readonly string[] _outputNames;
    // The session's own CPU allocator (its arena when enabled), for the logits a shared-buffer step
    // writes into a tensor we supply: the same memory ORT would have given an output it allocated.
    private readonly OrtAllocator _logitsAllocator;
    private SlotKvCache? _scratch;

    private DecoderSession(ModelDirectory model, OrtSession session, DecoderIo io, int contextWindow, TimeSpan loadTime)
    {
        Model = model;
        _session = session;
        Io = io;
        ContextWindow = contextWindow;
        LoadTime = loadTime;
        _outputNames = [io.Logits, .. io.PresentKeys, .. io.PresentValues, .. io.Lanes.SelectMany(l => l.PresentKeys.Concat(l.PresentValues))];
        _logitsAllocator = new OrtAllocator(session.Session, OrtMemoryInfo.DefaultInstance);
    }

    public ModelDirectory Model { get; }
    public QwenConfig Config => Model.Config;
    public DecoderIo Io { get; }
    public int VocabSize => Config.VocabSize;

    /// <summary>Largest total sequence length (prompt + generated) a request may reach.</summary>
    public int ContextWindow { get; }

    public TimeSpan LoadTime { get; }

    /// <summary>Whether steps treat denormal floats as zero (<see cref="DecoderSessionOptions.FlushDenormals"/>, where available).</summary>
    public bool FlushesDenormals => _session.FlushesDenormals;

    public static DecoderSession Open(string modelDirectory, DecoderSessionOptions? options = null)
    {
        options ??= new DecoderSessionOptions();
        var stopwatch = Stopwatch.StartNew();
        var model = ModelDirectory.Open(modelDirectory, options.OnnxFile);
        OrtSession session;
        try
        {
            session = OrtSessionFactory.Create(model.OnnxPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidModelException($"ONNX Runtime cannot load '{model.OnnxPath}': {e.Message}", e);
        }
        try
        {
            var io = DecoderIo.Read(session.Session.InputMetadata, session.Session.OutputMetadata, model.Config);
            int window = options.ContextWindow > 0 ? Math.Min(options.ContextWindow, model.Config.MaxPositionEmbeddings) : model.Config.MaxPositionEmbeddings;
            return new DecoderSession(model, session, io, window, stopwatch.Elapsed);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>An empty KV cache for the shared-buffer layout (see <see cref="StepSlots"/>).</summary>
    public SlotKvCache CreateSlotCache()
    {
        RequireLayout(shared: true);
        return new SlotKvCache(Io.Layers, Config.NumKeyValueHeads, Config.HeadDim, Io.KvType);
    }

    /// <summary>Bytes one cached position costs: a key and a value per layer and KV head, in the model's KV element type.</summary>
    public long KvBytesPerPosition => 2L * Io.Layers * Config.NumKeyValueHeads * Config.HeadDim * SlotKvCache.ElementSizeOf(Io.KvType);

    /// <summary>
    /// One forward pass of a shared-buffer model over slots [<paramref name="firstSlot"/>,
    /// firstSlot + batch) of <paramref name="cache"/>: each row appends
    /// <paramref name="sequenceLength"/> tokens after its cached ones (its slot's length), at the
    /// given positions, and attends over its own positions only. The keys and values are written
    /// into the slots in place and the slots' lengths advance. Several tokens per row need a
    /// batch of one (GroupQueryAttention's rule for a prompt that continues a cache).
    /// </summary>
    public StepLogits StepSlots(long[] inputIds, long[] positionIds, int sequenceLength, SlotKvCache cache, int firstSlot, int batch,
        int logitsToKeep = 1, CancellationToken cancellationToken = default)
    {
        RequireLayout(shared: true);
        if (sequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(sequenceLength), "a step needs at least one token per sequence");
        if (sequenceLength > 1 && batch != 1) throw new ArgumentException("a step of several tokens per row runs one row at a time", nameof(batch));
        if (inputIds.Length != batch * sequenceLength || positionIds.Length != batch * sequenceLength)
            throw new ArgumentException($"input_ids and position_ids must hold batch×seq = {batch}×{sequenceLength} values");
        if (Io.Lanes.Count > 0)
        {
            // A model with lanes runs every call through them: several tokens (batch 1) in a lane,
            // one token per row as decode rows (whose logits come out contiguous, in row order).
            if (sequenceLength > 1)
            {
                var prompt = RunLanes(cache, firstSlot, [], [], [new LaneChunk(firstSlot, inputIds, positionIds, logitsToKeep)], cancellationToken);
                return new StepLogits(prompt.Logits, prompt.ChunkRows[0], 1, prompt.ChunkKept[0], ownsValue: true);
            }
            var decode = RunLanes(cache, firstSlot, inputIds, positionIds, [], cancellationToken);
            return new StepLogits(decode.Logits, 0, batch, 1, ownsValue: true);
        }
        ValidateTokens(inputIds, positionIds);
        var seqlens = new int[batch];
        int total = 0;
        for (int r = 0; r < batch; r++)
        {
            int length = cache.LengthOf(firstSlot + r) + sequenceLength;
            if (length > cache.Capacity)
                throw new ArgumentException($"slot {firstSlot + r} would hold {length} positions but the cache has room for {cache.Capacity}");
            seqlens[r] = length - 1;
            total = Math.Max(total, length);
        }

        int keep = Io.LogitsToKeep is null || logitsToKeep <= 0 ? sequenceLength : Math.Min(logitsToKeep, sequenceLength);
        var (keys, values) = cache.Views(firstSlot, batch);
        var names = new List<string>(5 + 2 * Io.Layers);
        var inputs = new List<OrtValue>(5 + 2 * Io.Layers);
        var owned = new List<OrtValue>(5);
        void Add(string name, OrtValue value, bool own)
        {
            names.Add(name);
            inputs.Add(value);
            if (own) owned.Add(value);
        }
        OrtValue? logits = null;
        try
        {
            Add(Io.InputIds, Tensor(inputIds, batch, sequenceLength), true);
            Add(Io.PositionIds!, Tensor(positionIds, batch, sequenceLength), true);
            Add(Io.SeqlensK!, OrtValue.CreateTensorValueFromMemory(seqlens, [batch]), true);
            Add(Io.TotalSequenceLength!, OrtValue.CreateTensorValueFromMemory(new[] { total }, []), true);
            if (Io.LogitsToKeep is { } keepInput) Add(keepInput, OrtValue.CreateTensorValueFromMemory(new[] { (long)logitsToKeep }, []), true);
            for (int l = 0; l < Io.Layers; l++)
            {
                Add(Io.PastKeys[l], keys[l], false);
                Add(Io.PastValues[l], values[l], false);
            }
            logits = OrtValue.CreateAllocatedTensorValue(_logitsAllocator, TensorElementType.Float, [batch, keep, VocabSize]);
            // The present outputs are the past inputs: ORT writes the new positions in place.
            OrtValue[] outputs = [logits, .. keys, .. values];
            _session.RunInto(names, inputs, _outputNames, outputs, cancellationToken);
            for (int r = 0; r < batch; r++) cache.SetLength(firstSlot + r, seqlens[r] + 1);
            var result = new StepLogits(logits);
            logits = null;
            return result;
        }
        finally
        {
            logits?.Dispose();
            foreach (var v in owned) v.Dispose();
            foreach (var v in keys) v.Dispose();
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>
    /// <see cref="Step"/> on a shared-buffer model: each row runs alone on a slot holding its
    /// real (unmasked) past positions, and its new keys, values and logits are placed back at
    /// their columns of the standard layout (masked columns stay zero). Serves callers written
    /// for the standard layout (Generator, LabelScorer); the batching engine uses slots directly.
    /// </summary>
    private StepLogits StepRowByRow(long[] inputIds, long[] attentionMask, long[] positionIds, int sequenceLength, KvCache cache,
        int logitsToKeep, CancellationToken cancellationToken)
    {
        int batch = cache.BatchSize, past = cache.PastLength, total = past + sequenceLength;
        if (sequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(sequenceLength), "a step needs at least one token per sequence");
        if (inputIds.Length != batch * sequenceLength || positionIds.Length != batch * sequenceLength)
            throw new ArgumentException($"input_ids and position_ids must hold batch×seq = {batch}×{sequenceLength} values");
        if (attentionMask.Length != batch * total)
            throw new ArgumentException($"attention_mask must hold batch×(past+seq) = {batch}×{total} values");
        ValidateTokens(inputIds, positionIds);

        int layers = Io.Layers, heads = Config.NumKeyValueHeads, headDim = Config.HeadDim, vocab = VocabSize;
        int keep = Io.LogitsToKeep is null || logitsToKeep <= 0 ? sequenceLength : Math.Min(logitsToKeep, sequenceLength);
        var logits = new float[batch * keep * vocab];
        long[] shape = [batch, heads, total, headDim];
        var presentKeys = new OrtValue[layers];
        var presentValues = new OrtValue[layers];
        for (int l = 0; l < layers; l++)
        {
            presentKeys[l] = ZeroedKv(shape);
            presentValues[l] = ZeroedKv(shape);
        }
        try
        {
            using var slot = new SlotKvCache(layers, heads, headDim, Io.KvType);
            int rowBytes = slot.RowBytes;
            slot.Reserve(1, Math.Max(1, total));
            for (int r = 0; r < batch; r++)
            {
                var mask = attentionMask.AsSpan(r * total, total);
                var columns = new List<int>(total);
                for (int c = 0; c < total; c++)
                {
                    if (mask[c] != 0) columns.Add(c);
                }
                int pastCount = columns.Count(c => c < past);
                int newCount = columns.Count - pastCount;
                slot.SetLength(0, 0);
                for (int l = 0; l < layers; l++)
                {
                    var pastKeys = cache.Keys[l].GetTensorMutableRawData();
                    var pastValues = cache.Values[l].GetTensorMutableRawData();
                    for (int h = 0; h < heads; h++)
                    {
                        for (int i = 0; i < pastCount; i++)
                        {
                            int from = ((r * heads + h) * past + columns[i]) * rowBytes;
                            pastKeys.Slice(from, rowBytes).CopyTo(slot.Positions(l, true, 0, h, i, 1));
                            pastValues.Slice(from, rowBytes).CopyTo(slot.Positions(l, false, 0, h, i, 1));
                        }
                    }
                }
                slot.SetLength(0, pastCount);
                if (newCount > 0)
                {
                    var ids = new long[newCount];
                    var positions = new long[newCount];
                    for (int i = 0; i < newCount; i++)
                    {
                        int t = columns[pastCount + i] - past;
                        ids[i] = inputIds[r * sequenceLength + t];
                        positions[i] = positionIds[r * sequenceLength + t];
                    }
                    using var rowLogits = StepSlots(ids, positions, newCount, slot, 0, 1, 0, cancellationToken);
                    for (int i = 0; i < newCount; i++)
                    {
                        int j = columns[pastCount + i] - past - (sequenceLength - keep);
                        if (j < 0) continue;
                        rowLogits.Row(0, rowLogits.Positions - newCount + i).CopyTo(logits.AsSpan((r * keep + j) * vocab, vocab));
                    }
                }
                for (int l = 0; l < layers; l++)
                {
                    var keys = presentKeys[l].GetTensorMutableRawData();
                    var values = presentValues[l].GetTensorMutableRawData();
                    for (int h = 0; h < heads; h++)
                    {
                        for (int i = 0; i < columns.Count; i++)
                        {
                            int to = ((r * heads + h) * total + columns[i]) * rowBytes;
                            slot.Positions(l, true, 0, h, i, 1).CopyTo(keys.Slice(to, rowBytes));
                            slot.Positions(l, false, 0, h, i, 1).CopyTo(values.Slice(to, rowBytes));
                        }
                    }
                }
            }
        }
        catch
        {
            // Nothing owns the present tensors yet.
            foreach (var v in presentKeys.Concat(presentValues)) v.Dispose();
            throw;
        }
        cache.Replace(presentKeys, presentValues, total);
        return new StepLogits(OrtValue.CreateTensorValueFromMemory(logits, [batch, keep, vocab]));
    }

    /// <summary>A KV tensor of the model's element type with every element zero (masked columns stay zero).</summary>
    private OrtValue ZeroedKv(long[] shape)
    {
        var tensor = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, Io.KvType, shape);
        tensor.GetTensorMutableRawData().Clear();
        return tensor;
    }

    private void RequireLayout(bool shared)
    {
        if (Io.SharedKvBuffer != shared)
            throw new InvalidOperationException(shared
                ? "this model has the standard KV layout (attention_mask, growing past/present); use Step"
                : "this model keeps its KV in a shared buffer (seqlens_k); use CreateSlotCache and StepSlots");
    }

    private void ValidateTokens(long[] inputIds, long[] positionIds)
    {
        foreach (long id in inputIds)
        {
            if (id < 0 || id >= VocabSize) throw new ArgumentOutOfRangeException(nameof(inputIds), $"token id {id} is outside the vocabulary [0, {VocabSize})");
        }
        foreach (long position in positionIds)
        {
            if (position < 0 || position >= ContextWindow)
                throw new ArgumentOutOfRangeException(nameof(positionIds), $"position {position} is outside the context window of {ContextWindow} tokens");
        }
    }

    public KvCache CreateCache(int batchSize) =>
        KvCache.Empty(Io.Layers, batchSize, Config.NumKeyValueHeads, Config.HeadDim, Io.KvType);

    /// <summary>
    /// Runs one forward pass. <paramref name="inputIds"/> and <paramref name="positionIds"/> are
    /// [batch, seq] row-major; <paramref name="attentionMask"/> is [batch, past + seq] and covers
    /// the cached positions too. On success the cache holds past + seq positions.
    /// </summary>
    /// <param name="logitsToKeep">Trailing positions that need logits (0 = all). Models without
    /// the num_logits_to_keep input always return all positions.</param>
    public StepLogits Step(long[] inputIds, long[] attentionMask, long[] positionIds, int sequenceLength, KvCache cache,
        int logitsToKeep = 1, CancellationToken cancellationToken = default)
    {
        if (Io.SharedKvBuffer) return StepRowByRow(inputIds, attentionMask, positionIds, sequenceLength, cache, logitsToKeep, cancellationToken);
        int batch = cache.BatchSize;
        int total = cache.PastLength + sequenceLength;
        if (sequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(sequenceLength), "a step needs at least one token per sequence");
        if (inputIds.Length != batch * sequenceLength || positionIds.Length != batch * sequenceLength)
            throw new ArgumentException($"input_ids and position_ids must hold batch×seq = {batch}×{sequenceLength} values");
        if (attentionMask.Length != batch * total)
            throw new ArgumentException($"attention_mask must hold batch×(past+seq) = {batch}×{total} values");
        ValidateTokens(inputIds, positionIds);

        var names = new List<string>(4 + 2 * Io.Layers);
        var values = new List<OrtValue>(4 + 2 * Io.Layers);
        var owned = new List<OrtValue>(4);
        void Add(string name, OrtValue value, bool own)
        {
            names.Add(name);
            values.Add(value);
            if (own) owned.Add(value);
        }
        try
        {
            Add(Io.InputIds, Tensor(inputIds, batch, sequenceLength), true);
            Add(Io.AttentionMask!, Tensor(attentionMask, batch, total), true);
            if (Io.PositionIds is { } positions) Add(positions, Tensor(positionIds, batch, sequenceLength), true);
            if (Io.UseCacheBranch is { } branch) Add(branch, OrtValue.CreateTensorValueFromMemory(new[] { cache.PastLength > 0 }, [1]), true);
            if (Io.LogitsToKeep is { } keep) Add(keep, OrtValue.CreateTensorValueFromMemory(new[] { (long)logitsToKeep }, []), true);
            for (int l = 0; l < Io.Layers; l++)
            {
                Add(Io.PastKeys[l], cache.Keys[l], false);
                Add(Io.PastValues[l], cache.Values[l], false);
            }

            OrtValue[] outputs = [.. _session.Run(names, values, _outputNames, cancellationToken)];
            int layers = Io.Layers;
            cache.Replace(outputs[1..(1 + layers)], outputs[(1 + layers)..], total);
            return new StepLogits(outputs[0]);
        }
        finally
        {
            foreach (var v in owned) v.Dispose();
        }
    }

    private static OrtValue Tensor(long[] data, int rows, int columns) => OrtValue.CreateTensorValueFromMemory(data, [rows, columns]);

    public void Dispose()
    {
        _logitsAllocator.Dispose();
        _scratch?.Dispose();
        _session.Dispose();
    }
}
