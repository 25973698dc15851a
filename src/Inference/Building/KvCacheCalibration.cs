using System.Runtime.InteropServices;
using Qwen.Inference.Engine;
using Qwen.Inference.Models;

namespace Qwen.Inference.Building;

/// <summary>
/// Chooses an int8 KV cache's scales: builds a float32-KV twin of the model, prefills a few
/// fixed token sequences into it, and takes each channel's largest magnitude, with headroom.
/// </summary>
/// <remarks>
/// Keys are cached after the rotary embedding, which turns each pair of channels (i, i + d/2)
/// by an angle that grows with the position; the sequences are short, so a pair's channels get
/// one scale that covers the pair's whole magnitude, whatever the angle at later positions.
/// </remarks>
public static class KvCacheCalibration
{
    private const int Sequences = 4;
    private const int SequenceLength = 128;
    private const int Seed = 2026;

    /// <summary>How far beyond the largest calibrated magnitude a channel's range reaches.</summary>
    public const float Headroom = 1.25f;

    public static KvCacheScales Calibrate(QwenConfig config, IWeightSource weights, ModelBuildOptions options, IProgress<double>? progress = null,
        CancellationToken cancellationToken = default)
    {
        string twin = Directory.CreateTempSubdirectory("qwen-kv-calibration-").FullName;
        try
        {
            ModelDirectoryBuilder.Build(twin, config, weights, options with { Int8KvCache = false, Float16KvCache = false, PromptLanes = 0 },
                progress, cancellationToken);
            using var session = DecoderSession.Open(twin, new DecoderSessionOptions { ContextWindow = SequenceLength });
            return Measure(session, config, cancellationToken);
        }
        finally
        {
            Directory.Delete(twin, recursive: true);
        }
    }

    private static KvCacheScales Measure(DecoderSession session, QwenConfig config, CancellationToken cancellationToken)
    {
        int heads = config.NumKeyValueHeads, dim = config.HeadDim, layers = config.NumHiddenLayers;
        var keyMax = new float[layers, heads * dim];
        var valueMax = new float[layers, heads * dim];
        using var cache = session.CreateSlotCache();
        cache.Reserve(Sequences, SequenceLength);
        var random = new Random(Seed);
        for (int s = 0; s < Sequences; s++)
        {
            long[] ids = [.. Enumerable.Range(0, SequenceLength).Select(_ => (long)random.Next(0, config.VocabSize))];
            long[] positions = [.. Enumerable.Range(0, SequenceLength).Select(p => (long)p)];
            using var logits = session.StepSlots(ids, positions, SequenceLength, cache, s, 1, 1, cancellationToken);
            for (int l = 0; l < layers; l++)
            {
                for (int h = 0; h < heads; h++)
                {
                    Track(cache.Positions(l, key: true, s, h, 0, SequenceLength), keyMax, l, h * dim, dim);
                    Track(cache.Positions(l, key: false, s, h, 0, SequenceLength), valueMax, l, h * dim, dim);
                }
            }
        }
        return new KvCacheScales(Enumerable.Range(0, layers).Select(l => (KeyScales(keyMax, l, heads, dim), ValueScales(valueMax, l, heads * dim))));
    }

    private static void Track(Span<byte> positions, float[,] max, int layer, int first, int dim)
    {
        var values = MemoryMarshal.Cast<byte, float>(positions);
        for (int i = 0; i < values.Length; i++) max[layer, first + i % dim] = Math.Max(max[layer, first + i % dim], Math.Abs(values[i]));
    }

    private static float[] KeyScales(float[,] max, int layer, int heads, int dim)
    {
        var scales = new float[heads * dim];
        int half = dim / 2;
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < half; i++)
            {
                float a = max[layer, h * dim + i], b = max[layer, h * dim + half + i];
                scales[h * dim + i] = scales[h * dim + half + i] = Scale(MathF.Sqrt(a * a + b * b));
            }
        }
        return scales;
    }

    private static float[] ValueScales(float[,] max, int layer, int channels) =>
        [.. Enumerable.Range(0, channels).Select(c => Scale(max[layer, c]))];

    private static float Scale(float magnitude) => Math.Max(magnitude * Headroom / 127f, 1e-8f);
}
