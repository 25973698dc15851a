using System.Diagnostics.Metrics;

namespace Qwen.Api.Observability;

/// <summary>Meter "Qwen.Api": public requests by task and HTTP status, their latencies, and how many are in flight.</summary>
public sealed class ApiMetrics : IDisposable
{
    public const string MeterName = "Qwen.Api";

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly UpDownCounter<long> _inFlight;

    public ApiMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _requests = _meter.CreateCounter<long>("qwen.api.requests", "{request}", "Requests answered by the Api, by task and HTTP status");
        _duration = _meter.CreateHistogram("qwen.api.request_duration", "s", "Time from request to the end of the response, by task",
            advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 120],
            });
        _inFlight = _meter.CreateUpDownCounter<long>("qwen.api.in_flight", "{request}", "Requests being answered now");
    }

    public void Started() => _inFlight.Add(1);

    public void Finished(string task, int status, TimeSpan elapsed)
    {
        var taskTag = new KeyValuePair<string, object?>("task", task);
        _inFlight.Add(-1);
        _requests.Add(1, taskTag, new KeyValuePair<string, object?>("status", status));
        _duration.Record(elapsed.TotalSeconds, taskTag);
    }

    public void Dispose() => _meter.Dispose();
}
