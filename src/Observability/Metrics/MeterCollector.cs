using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Qwen.Observability.Metrics;

/// <summary>
/// Listens to the instruments of chosen meters (System.Diagnostics.Metrics) and keeps their
/// values, so a scrape can read them all at once as metric families.
/// </summary>
public sealed class MeterCollector : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _states = new();
    private readonly Lock _collecting = new();
    private readonly string[] _meterNames;

    /// <param name="meterNames">Meter names to listen to; a name ending in '*' matches by prefix.</param>
    public MeterCollector(IEnumerable<string> meterNames)
    {
        _meterNames = [.. meterNames];
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!Includes(instrument.Meter.Name) || InstrumentState.For(instrument) is not { } state) return;
            _states[instrument] = state;
            listener.EnableMeasurementEvents(instrument, state);
        };
        _listener.MeasurementsCompleted = (instrument, _) => _states.TryRemove(instrument, out InstrumentState? _);
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<byte>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<decimal>((_, value, tags, state) => ((InstrumentState)state!).Record((double)value, tags));
        _listener.Start();
    }

    /// <summary>Runs the observable instruments' callbacks and returns every family, sorted by name.</summary>
    public IReadOnlyList<MetricFamily> Collect()
    {
        lock (_collecting)
        {
            var states = _states.Values.ToArray();
            foreach (var state in states) state.BeginObservation();
            _listener.RecordObservableInstruments();
            var families = new List<MetricFamily>();
            // Instruments of the same name from several meters (e.g. one per silo) share a family.
            foreach (var group in states.GroupBy(s => s.FamilyName).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var first = group.First();
                var samples = group.Where(s => s.Type == first.Type).SelectMany(s => s.Samples()).ToList();
                families.Add(new MetricFamily(group.Key, first.Type, first.Help, samples));
            }
            return families;
        }
    }

    private bool Includes(string meterName) => _meterNames.Any(n =>
        n.EndsWith('*') ? meterName.StartsWith(n[..^1], StringComparison.Ordinal) : meterName == n);

    public void Dispose() => _listener.Dispose();
}
