using System.Diagnostics;
using Qwen.Inference.Models;
using Qwen.Inference.Runtime;

namespace Qwen.Inference.Engine;

/// <summary>
/// One loaded Qwen decoder: the ONNX Runtime session plus what was learned about its I/O.
/// <see cref="Step"/> runs one forward pass for a batch (prefill or decode) and advances the
/// KV cache. Thread-safe: many steps with different caches may run at once.
/// </summary>
public sealed class DecoderSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;

    private DecoderSession(ModelDirectory model, InferenceSession session, DecoderIo io, int contextWindow, TimeSpan loadTime)
    {
        Model = model;
        _session = session;
        Io = io;
        ContextWindow = contextWindow;
        LoadTime = loadTime;
        _outputNames = [io.Logits, .. io.PresentKeys, .. io.PresentValues];
    }

    public ModelDirectory Model { get; }
    public QwenConfig Config => Model.Config;
    public DecoderIo Io { get; }
    public int VocabSize => Config.VocabSize;

    /// <summary>Largest total sequence length (prompt + generated) a request may reach.</summary>
    public int ContextWindow { get; }

    public TimeSpan LoadTime { get; }

    public static DecoderSession Open(string modelDirectory, DecoderSessionOptions? options = null)
    {
        options ??= new DecoderSessionOptions();
        var stopwatch = Stopwatch.StartNew();
        var model = ModelDirectory.Open(modelDirectory, options.OnnxFile);
        using var sessionOptions = new SessionOptions
        {
            IntraOpThreads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Environment.ProcessorCount,
            GraphOptimizationLevel = options.OptimizationLevel,
            EnableCpuMemArena = options.EnableMemoryArena,
            EnableMemoryPattern = options.EnableMemoryPattern,
        };
        foreach (var (key, value) in options.SessionConfig) sessionOptions.AddConfigEntry(key, value);
        InferenceSession session;
        try
        {
            session = new InferenceSession(model.OnnxPath, sessionOptions);
        }
        catch (OrtException e)
        {
            throw new InvalidModelException($"ONNX Runtime cannot load '{model.OnnxPath}': {e.Message}", e);
        }
        try
        {
            var io = DecoderIo.Read(session.Inputs, session.Outputs, model.Config);
            int window = options.ContextWindow > 0 ? Math.Min(options.ContextWindow, model.Config.MaxPositionEmbeddings) : model.Config.MaxPositionEmbeddings;
            return new DecoderSession(model, session, io, window, stopwatch.Elapsed);
        }
        catch
        {
            session.Dispose();
            throw;
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
        int batch = cache.BatchSize;
        int total = cache.PastLength + sequenceLength;
        if (sequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(sequenceLength), "a step needs at least one token per sequence");
        if (inputIds.Length != batch * sequenceLength || positionIds.Length != batch * sequenceLength)
            throw new ArgumentException($"input_ids and position_ids must hold batch×seq = {batch}×{sequenceLength} values");
        if (attentionMask.Length != batch * total)
            throw new ArgumentException($"attention_mask must hold batch×(past+seq) = {batch}×{total} values");
        foreach (long id in inputIds)
        {
            if (id < 0 || id >= VocabSize) throw new ArgumentOutOfRangeException(nameof(inputIds), $"token id {id} is outside the vocabulary [0, {VocabSize})");
        }
        foreach (long position in positionIds)
        {
            if (position < 0 || position >= ContextWindow)
                throw new ArgumentOutOfRangeException(nameof(positionIds), $"position {position} is outside the context window of {ContextWindow} tokens");
        }

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
            Add(Io.InputIds, OrtValue.CreateTensor(inputIds, [batch, sequenceLength]), true);
            Add(Io.AttentionMask, OrtValue.CreateTensor(attentionMask, [batch, total]), true);
            if (Io.PositionIds is { } positions) Add(positions, OrtValue.CreateTensor(positionIds, [batch, sequenceLength]), true);
            if (Io.UseCacheBranch is { } branch) Add(branch, OrtValue.CreateTensor(new[] { cache.PastLength > 0 }, [1]), true);
            if (Io.LogitsToKeep is { } keep) Add(keep, OrtValue.CreateTensor(new[] { (long)logitsToKeep }, []), true);
            for (int l = 0; l < Io.Layers; l++)
            {
                Add(Io.PastKeys[l], cache.Keys[l], false);
                Add(Io.PastValues[l], cache.Values[l], false);
            }

            OrtValue[] outputs = _session.Run(names, values, _outputNames, cancellationToken);
            int layers = Io.Layers;
            cache.Replace(outputs[1..(1 + layers)], outputs[(1 + layers)..], total);
            return new StepLogits(outputs[0]);
        }
        finally
        {
            foreach (var v in owned) v.Dispose();
        }
    }

    public void Dispose() => _session.Dispose();
}
