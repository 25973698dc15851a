using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;

namespace Qwen.Api.Hosting;

/// <summary>
/// Gives every request an id (the client's sane X-Request-Id or a new one), returns it in the
/// X-Request-Id header, and writes exactly one log line when the request ends:
/// <c>[REQ-id] TASK=sentiment INPUT="..." -> OUTPUT="..." 412ms status=200 silo=s2 key=KEYID</c> (the key's id, never the key).
/// Operations endpoints (health, readiness, metrics, OpenAPI) log at Debug so scrapers do not flood the log.
/// </summary>
internal sealed partial class RequestFingerprintMiddleware(RequestDelegate next, IOptionsMonitor<ApiLimits> limits,
    ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger("Qwen.Api.Requests");

    public async Task InvokeAsync(HttpContext context)
    {
        var fingerprint = new RequestFingerprint(RequestFingerprint.IdFor(context.Request.Headers[RequestFingerprint.Header].FirstOrDefault()));
        context.Features.Set(fingerprint);
        // On starting, not now: error handlers clear the headers before they write their response.
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[RequestFingerprint.Header] = fingerprint.Id;
            return Task.CompletedTask;
        });
        long started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            Log(context, fingerprint, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    private void Log(HttpContext context, RequestFingerprint fingerprint, double elapsedMs)
    {
        bool operations = !context.Request.Path.StartsWithSegments("/v1");
        var level = operations ? LogLevel.Debug : LogLevel.Information;
        if (!_logger.IsEnabled(level)) return;
        var options = limits.CurrentValue;
        string task = fingerprint.Task ?? $"{context.Request.Method} {Shorten(context.Request.Path.Value ?? "", 60)}";
        int status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
        LogRequest(_logger, level, fingerprint.Id, task, Text(fingerprint.Input, options), Text(fingerprint.Output, options),
            Math.Round(elapsedMs), status, fingerprint.Silo ?? "-", fingerprint.KeyId ?? "-");
    }

    /// <summary>Shortened, on one line, quotes escaped; or only its length when text is kept out of logs.</summary>
    private static string Text(string? text, ApiLimits options)
    {
        if (text is null) return "";
        if (!options.LogText) return $"<{text.Length} chars>";
        var line = new StringBuilder(Math.Min(text.Length, options.LogTextChars) + 8);
        foreach (char c in Shorten(text, options.LogTextChars))
        {
            line.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '"' => "\\\"",
                _ when char.IsControl(c) => "?",
                _ => c.ToString(),
            });
        }
        return line.ToString();
    }

    private static string Shorten(string text, int max)
    {
        if (text.Length <= max) return text;
        int cut = max;
        if (cut > 0 && char.IsHighSurrogate(text[cut - 1])) cut--;
        return text[..cut] + "…";
    }

    [LoggerMessage(Message =
        "[REQ-{RequestId}] TASK={Task} INPUT=\"{Input}\" -> OUTPUT=\"{Output}\" {ElapsedMs}ms status={Status} silo={Silo} key={KeyId}")]
    private static partial void LogRequest(ILogger logger, LogLevel level, string requestId, string task, string input, string output,
        double elapsedMs, int status, string silo, string keyId);
}
