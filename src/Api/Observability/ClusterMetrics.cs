using System.Diagnostics.Metrics;
using Qwen.Api.Cluster;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Observability;

/// <summary>
/// Meter "Qwen.Cluster" on the Api: the cluster's membership and totals over its silos (<c>qwen_cluster_*</c>), read from
/// the reports the silo directory polls every second (<see cref="ISiloGrain.GetStatusAsync"/>), so the Api needs no
/// second channel to the silos. Each silo's own series, histograms and Orleans' meters are on the silo's /metrics.
/// </summary>
public sealed class ClusterMetrics : IDisposable
{
    public const string MeterName = "Qwen.Cluster";

    /// <summary>Every status a silo view can have, so each is exported (0 included) and a dashboard sees the full set.</summary>
    public static readonly string[] Statuses =
        [SiloStatusReport.Active, SiloStatusReport.Cold, SiloStatusReport.Warming, "joining", SiloStatusReport.Stopping, "dead"];

    private readonly Meter _meter;

    public ClusterMetrics(IMeterFactory meters, SiloDirectory directory)
    {
        _meter = meters.Create(MeterName);
        // Silos that answered the last poll; a silo that did not contributes nothing rather than stale figures.
        IEnumerable<SiloView> Answered() => directory.All.Where(s => s.Activity is not null);
        void Total(string name, Func<SiloView, long> read, string unit, string description) =>
            _meter.CreateObservableGauge(name, () => Answered().Sum(read), unit, description + " (sum over the silos)");
        void TotalCounter(string name, Func<WorkerLoad, long> read, string unit, string description) =>
            _meter.CreateObservableCounter(name, () => Answered().Sum(s => s.Load is { } load ? read(load) : 0), unit,
                description + " (sum over the silos; drops when a silo leaves, which rate() treats as a reset)");

        _meter.CreateObservableGauge("qwen.cluster.silos",
            () => Statuses.Select(status =>
                new Measurement<int>(directory.All.Count(s => s.Status == status), new KeyValuePair<string, object?>("status", status))),
            "{silo}", "Silos of the cluster's membership, by status");
        _meter.CreateObservableGauge("qwen.cluster.silo_up",
            () => directory.All.Select(s => new Measurement<int>(s.Activity is null ? 0 : 1, new KeyValuePair<string, object?>("silo", s.SiloId))),
            "", "1 when the silo answered the Api's last status poll, 0 otherwise");
        Total("qwen.cluster.inference.queue_depth", s => s.Load?.Queued ?? 0, "{request}", "Requests waiting for the model");
        Total("qwen.cluster.inference.running", s => s.Load?.Running ?? 0, "{request}", "Requests being computed");
        Total("qwen.cluster.inference.batch_size", s => s.Load?.BatchSize ?? 0, "{sequence}", "Sequences in the latest model step");
        Total("qwen.cluster.inference.kv_in_use", s => s.Load?.KvInUse ?? 0, "{token}", "KV-cache positions holding tokens");
        Total("qwen.cluster.inference.kv_reserved", s => s.Load?.KvReserved ?? 0, "{token}", "KV-cache positions reserved by running requests");
        Total("qwen.cluster.inference.kv_budget", s => s.Load?.KvBudget ?? 0, "{token}", "KV-cache positions running requests may reserve");
        Total("qwen.cluster.silo.active_conversations", s => s.Activity!.ActiveConversations, "{conversation}", "Conversation grains active");
        Total("qwen.cluster.silo.queued_turns", s => s.Activity!.QueuedTurns, "{turn}", "Turns waiting behind a running turn");
        Total("qwen.cluster.silo.running_turns", s => s.Activity!.RunningTurns, "{turn}", "Conversation turns running");
        Total("qwen.cluster.process.resident_memory", s => s.Activity!.ResidentBytes, "By", "Resident memory of the silo processes");
        TotalCounter("qwen.cluster.inference.generated_tokens", l => l.GeneratedTokens, "{token}", "Reply tokens generated");
        TotalCounter("qwen.cluster.inference.refused", l => l.Refused, "{request}", "Requests refused as overloaded");
        TotalCounter("qwen.cluster.inference.cancelled", l => l.Cancelled, "{request}", "Requests their callers cancelled");
        TotalCounter("qwen.cluster.inference.expired", l => l.Expired, "{request}", "Requests that passed their deadline");
    }

    public void Dispose() => _meter.Dispose();
}
