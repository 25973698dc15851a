using System.Diagnostics;
using System.Diagnostics.Metrics;
using Qwen.Cluster.Transport;
using Qwen.Grains;

namespace Qwen.Silo.Observability;

/// <summary>
/// Meter "Qwen.Silo" (tagged with the silo id), call side: the grain calls this silo served, by
/// call and HTTP status, and their durations. Needs nothing but the silo id, so the HTTP
/// pipeline can use it before the model is loaded.
/// </summary>
public sealed class SiloCallMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _calls;
    private readonly Histogram<double> _callDuration;

    public SiloCallMetrics(IMeterFactory meters, SiloIdentity silo)
    {
        _meter = meters.Create(new MeterOptions(SiloMetrics.MeterName) { Tags = [new("silo", silo.Id)] });
        _calls = _meter.CreateCounter<long>("qwen.silo.calls", "{call}", "Grain calls served by this silo, by call and HTTP status");
        _callDuration = _meter.CreateHistogram<double>("qwen.silo.call_duration", "s", "Duration of grain calls served by this silo, by call");
    }

    /// <summary>Measures every grain call (paths under /silo/) by its route.</summary>
    public async Task MeasureAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.Request.Path.StartsWithSegments("/silo", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }
        long started = Stopwatch.GetTimestamp();
        int status = StatusCodes.Status500InternalServerError;
        try
        {
            await next(context);
            status = context.Response.StatusCode;
        }
        finally
        {
            var call = new KeyValuePair<string, object?>("call", CallOf(context));
            var code = new KeyValuePair<string, object?>("status", status);
            _calls.Add(1, call, code);
            _callDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, call);
        }
    }

    private static string CallOf(HttpContext context)
    {
        string? route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        return (route, context.Request.Method) switch
        {
            (SiloRoutes.Sentiment, _) => "sentiment",
            (SiloRoutes.Turns, _) => "chat",
            (SiloRoutes.TurnStream, _) => "chat_stream",
            (SiloRoutes.Conversation, "GET") => "history",
            (SiloRoutes.Conversation, "DELETE") => "reset",
            _ => "other",
        };
    }

    public void Dispose() => _meter.Dispose();
}
