namespace Qwen.Api.Hosting;

/// <summary>
/// What one request was: its id, and what its endpoint reports for the one log line written when
/// the request ends (task, input, output, serving silo).
/// </summary>
public sealed class RequestFingerprint(string id)
{
    public const string Header = "X-Request-Id";

    public string Id { get; } = id;
    public string? Task { get; set; }
    public string? Input { get; set; }
    public string? Output { get; set; }
    public string? Silo { get; set; }

    /// <summary>The id of the API key that authenticated the request (never the key itself).</summary>
    public string? KeyId { get; set; }

    public static RequestFingerprint Of(HttpContext context) =>
        context.Features.Get<RequestFingerprint>() ?? throw new InvalidOperationException("the request fingerprint middleware is not installed");

    /// <summary>A client's id when it is sane (1-64 of letters, digits and - _ . :), otherwise a new one.</summary>
    public static string IdFor(string? incoming)
    {
        if (incoming is { Length: > 0 and <= 64 } && incoming.AsSpan().IndexOfAnyExcept(Allowed) < 0) return incoming;
        return Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
    }

    private static readonly System.Buffers.SearchValues<char> Allowed =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:");
}
