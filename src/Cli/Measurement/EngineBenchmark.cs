using System.Diagnostics;
using Qwen.Inference.Engine;

namespace Qwen.Cli.Measurement;

/// <summary>The measurements behind <c>qwen bench-engine</c>; medians of repeated runs.</summary>
internal static class EngineBenchmark
{
    public sealed record Settings(string ModelPath, int Threads, int DecodeSteps, int[] Batches, int[] PromptLengths, bool Arena, bool MemoryPattern,
        IReadOnlyDictionary<string, string> SessionConfig, string? ProfileFilePrefix = null, bool FlushDenormals = false,
        int DecodeContext = EngineBenchmark.DecodePromptTokens);

    public sealed record PrefillResult(int PromptTokens, double Milliseconds, double TokensPerSecond);

    public sealed record DecodeResult(int Batch, double StepMilliseconds, double TokensPerSecond, double WeightGigabytesPerSecond);

    public sealed record Report(string Model, long WeightBytes, int Threads, double LoadSeconds, double LoadedRssMegabytes,
        IReadOnlyList<PrefillResult> Prefill, IReadOnlyList<DecodeResult> Decode, double PeakRssMegabytes, int DecodeContext);

    /// <summary>Positions each decode row has cached before the timed steps, unless told otherwise.</summary>
    public const int DecodePromptTokens = 32;

    public static Report Run(Settings s, Action<string> log, CancellationToken ct)
    {
        int threads = s.Threads > 0 ? s.Threads : Environment.ProcessorCount;
        log($"loading {s.ModelPath} ...");
        using var session = DecoderSession.Open(s.ModelPath, new DecoderSessionOptions
        {
            IntraOpThreads = threads,
            EnableMemoryArena = s.Arena,
            EnableMemoryPattern = s.MemoryPattern,
            SessionConfig = s.SessionConfig,
            ProfileFilePrefix = s.ProfileFilePrefix,
            FlushDenormals = s.FlushDenormals,
        });
        double loadedRss = ProcessMemory.CurrentRssMegabytes();
        long weightBytes = Directory.GetFiles(Path.GetDirectoryName(session.Model.OnnxPath)!)
            .Where(f => f.StartsWith(session.Model.OnnxPath, StringComparison.Ordinal))
            .Sum(f => new FileInfo(f).Length);
        var random = new Random(1234);

        var prefill = new List<PrefillResult>();
        foreach (int length in s.PromptLengths)
        {
            ct.ThrowIfCancellationRequested();
            log($"prefill {length} tokens ... (RSS {ProcessMemory.CurrentRssMegabytes():F0} MB)");
            double ms = Median(Enumerable.Range(0, 4).Select(_ => TimePrefill(session, RandomIds(random, length), ct)).Skip(1));
            prefill.Add(new PrefillResult(length, ms, length / (ms / 1000)));
        }

        var decode = new List<DecodeResult>();
        foreach (int batch in s.Batches)
        {
            ct.ThrowIfCancellationRequested();
            log($"decode batch {batch}, {s.DecodeSteps} steps ... (RSS {ProcessMemory.CurrentRssMegabytes():F0} MB)");
            double ms = TimeDecode(session, batch, s.DecodeSteps, s.DecodeContext, random, ct);
            decode.Add(new DecodeResult(batch, ms, batch / (ms / 1000), weightBytes / 1e9 / (ms / 1000)));
        }

        return new Report(Path.GetFileName(s.ModelPath.TrimEnd('/')), weightBytes, threads, session.LoadTime.TotalSeconds, loadedRss,
            prefill, decode, ProcessMemory.PeakRssMegabytes(), s.DecodeContext);
    }

    /// <summary>
    /// Steady-state decode rate (tokens/s) of <paramref name="batch"/> sequences after a prompt of
    /// <paramref name="context"/> tokens each: the same measurement as the decode rows of the report.
    /// </summary>
    public static double DecodeTokensPerSecond(DecoderSession session, int batch, int steps, int context, CancellationToken ct) =>
        batch / (TimeDecode(session, batch, steps, context, new Random(1234), ct) / 1000);

    private static double TimePrefill(DecoderSession session, long[] ids, CancellationToken ct)
    {
        if (session.Io.SharedKvBuffer)
        {
            using var slots = session.CreateSlotCache();
            slots.Reserve(1, ids.Length);
            long[] slotPositions = Enumerable.Range(0, ids.Length).Select(i => (long)i).ToArray();
            var slotWatch = Stopwatch.StartNew();
            using var slotLogits = session.StepSlots(ids, slotPositions, ids.Length, slots, 0, 1, 1, ct);
            return slotWatch.Elapsed.TotalMilliseconds;
        }
        using var cache = session.CreateCache(1);
        long[] mask = Enumerable.Repeat(1L, ids.Length).ToArray();
        long[] positions = Enumerable.Range(0, ids.Length).Select(i => (long)i).ToArray();
        var watch = Stopwatch.StartNew();
        using var logits = session.Step(ids, mask, positions, ids.Length, cache, 1, ct);
        return watch.Elapsed.TotalMilliseconds;
    }

    /// <summary>Median time of one decode step for <paramref name="batch"/> sequences after a prompt of <paramref name="context"/> tokens each.</summary>
    private static double TimeDecode(DecoderSession session, int batch, int steps, int context, Random random, CancellationToken ct)
    {
        if (session.Io.SharedKvBuffer) return TimeSlotDecode(session, batch, steps, context, random, ct);
        using var cache = session.CreateCache(batch);
        long[] ids = RandomIds(random, batch * context);
        long[] mask = Enumerable.Repeat(1L, ids.Length).ToArray();
        long[] positions = Enumerable.Range(0, ids.Length).Select(i => (long)(i % context)).ToArray();
        session.Step(ids, mask, positions, context, cache, 1, ct).Dispose();
        var times = new List<double>();
        for (int step = 0; step <= steps; step++)
        {
            long[] next = RandomIds(random, batch);
            long[] nextPositions = Enumerable.Repeat((long)(context + step), batch).ToArray();
            mask = Enumerable.Repeat(1L, batch * (context + step + 1)).ToArray();
            var watch = Stopwatch.StartNew();
            session.Step(next, mask, nextPositions, 1, cache, 1, ct).Dispose();
            if (step > 0) times.Add(watch.Elapsed.TotalMilliseconds); // the first step warms up
        }
        return Median(times);
    }

    /// <summary>As <see cref="TimeDecode"/> on a shared-buffer model: each row prefilled into its slot, then every row decodes in place.</summary>
    private static double TimeSlotDecode(DecoderSession session, int batch, int steps, int context, Random random, CancellationToken ct)
    {
        using var cache = session.CreateSlotCache();
        cache.Reserve(batch, context + steps + 1);
        long[] promptPositions = Enumerable.Range(0, context).Select(i => (long)i).ToArray();
        for (int row = 0; row < batch; row++)
            session.StepSlots(RandomIds(random, context), promptPositions, context, cache, row, 1, 1, ct).Dispose();
        var times = new List<double>();
        for (int step = 0; step <= steps; step++)
        {
            long[] next = RandomIds(random, batch);
            long[] nextPositions = Enumerable.Repeat((long)(context + step), batch).ToArray();
            var watch = Stopwatch.StartNew();
            session.StepSlots(next, nextPositions, 1, cache, 0, batch, 1, ct).Dispose();
            if (step > 0) times.Add(watch.Elapsed.TotalMilliseconds); // the first step warms up
        }
        return Median(times);
    }

    private static long[] RandomIds(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (long)random.Next(0, 150_000)).ToArray();

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
