namespace Qwen.Grains.Interfaces;

/// <summary>
/// A read-only snapshot of one silo's inference worker: what waits, what runs, the limits it
/// admits within, and whether chat replies are being capped. For routing, metrics, dashboards
/// and autoscaling; reading it costs no model work.
/// </summary>
/// <param name="SiloId">The silo whose worker this is.</param>
/// <param name="Scheduling">"Batched" (continuous batching) or "Sequential".</param>
/// <param name="Queued">Requests admitted and waiting to start.</param>
/// <param name="Running">Requests started (prefilling or decoding) and not yet answered.</param>
/// <param name="BatchSize">Sequences in the latest decode step (0 when idle; sequential: requests running).</param>
/// <param name="MaxBatchSize">Capacity: sequences one step decodes together (sequential: requests running at once).</param>
/// <param name="MaxQueueLength">Capacity: requests that may wait; one more is refused as overloaded.</param>
/// <param name="Degraded">The backlog is above the degradation threshold: new chat replies are capped.</param>
/// <param name="DegradedMaxNewTokens">The cap applied to chat replies while degraded (null when degradation is off).</param>
/// <param name="Steps">Engine steps the worker has run since start (batched; 0 for sequential).</param>
/// <param name="DecodedRows">Sequence rows computed by decode steps since start: one per sequence per step, so a
/// sequence still in the batch keeps adding to it and one that left does not (batched; 0 for sequential).</param>
/// <param name="LastStepMilliseconds">Wall time of the latest model step (batched; 0 before the first).</param>
/// <param name="GeneratedTokens">Reply tokens generated since start, counted as each is generated.</param>
/// <param name="Refused">Requests refused as overloaded since start.</param>
/// <param name="Cancelled">Requests their callers cancelled (disconnects included) before they finished.</param>
/// <param name="Expired">Requests that passed their deadline before they finished.</param>
/// <param name="KvInUse">KV-cache positions holding tokens after the latest step (batched; 0 for sequential).</param>
/// <param name="KvReserved">KV-cache positions reserved by the running requests.</param>
/// <param name="KvBudget">KV-cache positions the running requests may reserve.</param>
[GenerateSerializer, Immutable, Alias("qwen.WorkerLoad")]
public sealed record WorkerLoad(
    string SiloId,
    string Scheduling,
    int Queued,
    int Running,
    int BatchSize,
    int MaxBatchSize,
    int MaxQueueLength,
    bool Degraded,
    int? DegradedMaxNewTokens,
    long Steps,
    long DecodedRows,
    double LastStepMilliseconds,
    long GeneratedTokens,
    long Refused,
    long Cancelled,
    long Expired,
    // Added last, with defaults: a silo of the previous version leaves them 0 during a rolling upgrade.
    int KvInUse = 0,
    int KvReserved = 0,
    int KvBudget = 0);
