using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Qwen.Cli.Measurement;
using Qwen.Cli.Workload;
using Qwen.Grains;
using Qwen.Inference.Prompts;

namespace Qwen.Cli.Serving;

/// <summary>
/// Drives one silo's inference worker in-process with closed-loop clients. Every phase gets a
/// fresh worker on the one loaded model, warmed by one request of each task (a serving silo
/// is warm), and its own peak-RSS window.
/// </summary>
internal sealed class ServeBenchmark(LoadedModel model, int maxNewTokens)
{
    private const int EngineDecodeSteps = 32;

    private static readonly WorkloadRequest[] WarmUp =
    [
        new(WorkloadTask.Sentiment, "The weather is nice today."),
        new(WorkloadTask.Chat, "你好，今天过得怎么样？"),
    ];

    public InferenceWorker CreateWorker(string mode) =>
        new(model, Options.Create(ServeModes.Options(mode)), Options.Create(new SentimentPromptOptions()), Options.Create(new ChatPromptOptions()),
            new SiloIdentity("bench-serve"), NullLogger<InferenceWorker>.Instance);

    /// <summary>Runs <paramref name="requests"/> with <paramref name="concurrency"/> clients, each taking the next request when done.</summary>
    public async Task<ServeRow> RunPhaseAsync(string mode, int concurrency, IReadOnlyList<WorkloadRequest> requests, LiveCounters live,
        CancellationToken cancellationToken)
    {
        using var worker = CreateWorker(mode);
        await WarmUpAsync(worker, cancellationToken).ConfigureAwait(false);
        var samples = new ConcurrentQueue<RequestSample>();
        var steps = new StepTally();
        worker.StepCompleted += steps.Record;
        ProcessMemory.ResetPeak();
        var watch = Stopwatch.StartNew();
        try
        {
            await ClosedLoop.RunAsync(concurrency, requests, () =>
            {
                var client = new ServeClient(worker, maxNewTokens);
                return async request =>
                {
                    var sample = await client.RunAsync(request, cancellationToken).ConfigureAwait(false);
                    samples.Enqueue(sample);
                    live.Record(sample.Succeeded, sample.GeneratedTokens);
                };
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            worker.StepCompleted -= steps.Record;
        }
        cancellationToken.ThrowIfCancellationRequested();
        return ServeRow.From(mode, concurrency, samples, watch.Elapsed, ProcessMemory.PeakRssMegabytes()) with
        {
            PrefillTokensPerRequest = steps.PrefillShare is null || samples.IsEmpty ? null : steps.PrefillTokens / (double)samples.Count,
            PrefillShare = steps.PrefillShare,
            PrefillInDecodeCalls = steps.PrefillShare is null ? null : steps.PrefillInDecodeCalls ?? 0,
            MeanDecodeRows = steps.MeanDecodeRows,
            MeanDecodeContext = steps.MeanDecodeContext,
            DecodeMsPerStep = steps.MeanDecodeTime?.TotalMilliseconds,
        };
    }

    /// <summary>Keeps <paramref name="concurrency"/> clients busy until <paramref name="duration"/> has passed; samples RSS meanwhile.</summary>
    public async Task<SoakReport> SoakAsync(string mode, int concurrency, TimeSpan duration, int seed, WorkloadMix mix, LiveCounters live,
        CancellationToken cancellationToken)
    {
        using var worker = CreateWorker(mode);
        await WarmUpAsync(worker, cancellationToken).ConfigureAwait(false);
        var samples = new ConcurrentQueue<RequestSample>();
        var rss = new List<RssSample>();
        ProcessMemory.ResetPeak();
        var watch = Stopwatch.StartNew();
        var clients = Enumerable.Range(0, concurrency).Select(c => Task.Run(async () =>
        {
            var client = new ServeClient(worker, maxNewTokens);
            var random = new Random(seed + c);
            while (watch.Elapsed < duration)
            {
                var sample = await client.RunAsync(WorkloadRequest.Next(random, mix), cancellationToken).ConfigureAwait(false);
                samples.Enqueue(sample);
                live.Record(sample.Succeeded, sample.GeneratedTokens);
            }
        }, cancellationToken)).ToArray();
        var all = Task.WhenAll(clients);
        TimeSpan interval = SoakReport.SampleInterval(duration);
        while (!all.IsCompleted)
        {
            rss.Add(new RssSample(watch.Elapsed.TotalSeconds, ProcessMemory.CurrentRssMegabytes()));
            await Task.WhenAny(all, Task.Delay(interval, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        await all.ConfigureAwait(false);
        var elapsed = watch.Elapsed;
        rss.Add(new RssSample(elapsed.TotalSeconds, ProcessMemory.CurrentRssMegabytes()));
        return SoakReport.From(ServeRow.From(mode, concurrency, samples, elapsed, ProcessMemory.PeakRssMegabytes()), duration, rss);
    }

    /// <summary>
    /// The engine's steady-state decode rate at <paramref name="batch"/> rows on the same loaded model
    /// (what <c>qwen bench-engine</c> reports as "decode batch N"), for the efficiency of a level.
    /// </summary>
    public double EngineDecodeTokensPerSecond(int batch, CancellationToken cancellationToken) =>
        EngineBenchmark.DecodeTokensPerSecond(model.Session, batch, EngineDecodeSteps, EngineBenchmark.DecodePromptTokens, cancellationToken);

    /// <summary>As <see cref="EngineDecodeTokensPerSecond(int, CancellationToken)"/>, each row attending over <paramref name="context"/> positions.</summary>
    public double EngineDecodeTokensPerSecond(int batch, int context, CancellationToken cancellationToken) =>
        EngineBenchmark.DecodeTokensPerSecond(model.Session, batch, EngineDecodeSteps, Math.Max(2, context), cancellationToken);

    private async Task WarmUpAsync(InferenceWorker worker, CancellationToken cancellationToken)
    {
        var client = new ServeClient(worker, maxNewTokens);
        foreach (var request in WarmUp)
        {
            var sample = await client.RunAsync(request, cancellationToken).ConfigureAwait(false);
            if (!sample.Succeeded) throw new InvalidOperationException($"the warm-up {request.Task.Name()} request failed: {sample.Error}");
        }
    }
}
