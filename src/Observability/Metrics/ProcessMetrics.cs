using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Qwen.Observability.Metrics;

/// <summary>
/// Meter "Qwen.Process": the process figures Prometheus users look for under their usual
/// names (resident memory, CPU time, start time). GC figures come from .NET's own
/// "System.Runtime" meter, which the collector also reads.
/// </summary>
public sealed class ProcessMetrics : IDisposable
{
    public const string MeterName = "Qwen.Process";

    private readonly Meter _meter;

    public ProcessMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        long started = new DateTimeOffset(Process.GetCurrentProcess().StartTime).ToUnixTimeMilliseconds();
        // On Linux the working set is the resident set size (VmRSS).
        _meter.CreateObservableGauge("process.resident_memory", () => Environment.WorkingSet, "By", "Resident memory of the process");
        _meter.CreateObservableCounter("process.cpu", () => Environment.CpuUsage.TotalTime.TotalSeconds, "s", "CPU time used by the process (user plus system)");
        _meter.CreateObservableGauge("process.start_time", () => started / 1000.0, "s", "Start time of the process, Unix epoch seconds");
        _meter.CreateObservableGauge("process.managed_heap", () => GC.GetGCMemoryInfo().HeapSizeBytes, "By", "Managed heap size at the last garbage collection");
        _meter.CreateObservableCounter("process.gc_collections", () => new[]
        {
            new Measurement<long>(GC.CollectionCount(0), new KeyValuePair<string, object?>("generation", "gen0")),
            new Measurement<long>(GC.CollectionCount(1), new KeyValuePair<string, object?>("generation", "gen1")),
            new Measurement<long>(GC.CollectionCount(2), new KeyValuePair<string, object?>("generation", "gen2")),
        }, "{collection}", "Garbage collections since start, by generation (a gen2 count includes the gen1 and gen0 it collected)");
    }

    public void Dispose() => _meter.Dispose();
}
