using System.Diagnostics.Metrics;
using Qwen.Grains;
using Qwen.Inference.Batching;

namespace Qwen.Silo.Observability;

/// <summary>
/// Meter "Qwen.Inference", every series tagged with the silo id: the inference worker's queue, batch, KV
/// reservation and generated tokens, read when scraped, plus a histogram of every model step.
/// </summary>
public sealed class InferenceMetrics : IDisposable
{
    public const string MeterName = "Qwen.Inference";

    private readonly Meter _meter;
    private readonly InferenceWorker _worker;
    private readonly KeyValuePair<string, object?> _silo;
    private readonly Histogram<int> _stepBatch;
    private readonly Histogram<double> _stepDuration;
    private readonly Counter<long> _prefillTokens;

    public InferenceMetrics(IMeterFactory meters, ISiloModel model, SiloIdentity silo)
    {
        var worker = _worker = model.Worker;
        _meter = meters.Create(MeterName);
        // On each measurement rather than on the meter: exporters drop or rename meter-level tags.
        var tag = _silo = new KeyValuePair<string, object?>("silo", silo.Id);
        void Gauge(string name, Func<long> read, string unit, string description) =>
            _meter.CreateObservableGauge(name, () => new Measurement<long>(read(), tag), unit, description);
        void Counter(string name, Func<long> read, string unit, string description) =>
            _meter.CreateObservableCounter(name, () => new Measurement<long>(read(), tag), unit, description);

        Gauge("qwen.inference.queue_depth", () => worker.QueuedRequests, "{request}", "Requests waiting for the model");
        Gauge("qwen.inference.running", () => worker.RunningRequests, "{request}", "Requests being computed (prefilling or decoding)");
        Gauge("qwen.inference.batch_size", () => worker.BatchSize, "{sequence}", "Sequences in the latest model step");
        Gauge("qwen.inference.kv_in_use", () => worker.Kv.InUse, "{token}", "KV-cache positions holding tokens after the latest step");
        Gauge("qwen.inference.kv_capacity", () => worker.Kv.Capacity, "{token}", "KV-cache positions allocated after the latest step");
        Gauge("qwen.inference.kv_reserved", () => worker.Kv.Reserved, "{token}", "KV-cache positions reserved by running requests");
        Gauge("qwen.inference.kv_budget", () => worker.Kv.Budget, "{token}", "KV-cache positions running requests may reserve");
        // The same figures in bytes, from the model's cost per position (float32 or float16 KV).
        Gauge("qwen.inference.kv_in_use_bytes", () => worker.Kv.InUse * worker.Kv.BytesPerPosition, "By", "Bytes of the KV positions holding tokens");
        Gauge("qwen.inference.kv_capacity_bytes", () => worker.Kv.Capacity * worker.Kv.BytesPerPosition, "By",
            "Bytes of KV positions allocated (address space; only positions in use stay resident)");
        Gauge("qwen.inference.kv_budget_bytes", () => worker.Kv.Budget * worker.Kv.BytesPerPosition, "By",
            "Bytes of the KV positions running requests may reserve (Inference:KvBudgetTokens)");
        Gauge("qwen.inference.prefix_cache_bytes", () => worker.Kv.PrefixCachedTokens * worker.Kv.BytesPerPosition, "By",
            "Bytes of KV the prefix cache holds");
        Counter("qwen.inference.prefix_cache_hits", () => worker.Kv.PrefixHits, "{prompt}", "Prompts that found cached KV for a prefix");
        Counter("qwen.inference.prefix_cache_misses", () => worker.Kv.PrefixMisses, "{prompt}", "Prompts that found no cached prefix");
        Counter("qwen.inference.prefix_cache_hit_tokens", () => worker.Kv.PrefixHitTokens, "{token}",
            "Prompt positions copied from the prefix cache instead of computed");
        Gauge("qwen.inference.prefix_cache_tokens", () => worker.Kv.PrefixCachedTokens, "{token}", "Positions the prefix cache holds");
        // The worker counts each token as the engine emits it, so a scrape mid-reply sees the tokens made so far.
        Counter("qwen.inference.generated_tokens", () => worker.GeneratedTokens, "{token}", "Reply tokens generated since start");
        Counter("qwen.inference.refused", () => worker.Load().Refused, "{request}", "Requests refused as overloaded (queue full)");
        Counter("qwen.inference.cancelled", () => worker.Load().Cancelled, "{request}",
            "Requests their callers cancelled (disconnects included) before they finished");
        Counter("qwen.inference.expired", () => worker.Load().Expired, "{request}", "Requests that passed their deadline before they finished");
        Gauge("qwen.inference.degraded", () => worker.CurrentReplyCap is null ? 0 : 1, "", "1 while the backlog caps new chat replies");
        _stepBatch = _meter.CreateHistogram("qwen.inference.step_batch_size", "{sequence}", "Decode rows of each model step",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 12, 16, 24, 32, 64] });
        _stepDuration = _meter.CreateHistogram("qwen.inference.step_duration", "s", "Wall time of each model step (prefill chunk plus decode)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        _prefillTokens = _meter.CreateCounter<long>("qwen.inference.prefill_tokens", "{token}",
            "Prompt positions computed by prefill steps (padding included)");
        worker.StepCompleted += OnStep;
    }

    private void OnStep(EngineStepReport report)
    {
        if (report.DecodeRows > 0) _stepBatch.Record(report.DecodeRows, _silo);
        _stepDuration.Record(report.Elapsed.TotalSeconds, _silo);
        if (report.PrefillTokens > 0) _prefillTokens.Add(report.PrefillTokens, _silo);
    }

    public void Dispose()
    {
        _worker.StepCompleted -= OnStep;
        _meter.Dispose();
    }
}
