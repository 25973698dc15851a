using System.Text;

namespace Qwen.Api.Security;

/// <summary>
/// The API key a request carries: <c>X-Api-Key: KEY</c>, <c>Authorization: Bearer KEY</c> (what OpenAI
/// clients send) or, for browsers opening the dashboards, HTTP Basic with the key as the password.
/// </summary>
public static class PresentedKey
{
    public const string Header = "X-Api-Key";

    /// <summary>The key, or null when the request carries none.</summary>
    public static string? Of(HttpRequest request)
    {
        if (request.Headers[Header].FirstOrDefault()?.Trim() is { Length: > 0 } key) return key;
        string? authorization = request.Headers.Authorization.FirstOrDefault()?.Trim();
        if (authorization is null) return null;
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization[7..].Trim() is { Length: > 0 } bearer ? bearer : null;
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return BasicPassword(authorization[6..].Trim());
        return null;
    }

    private static string? BasicPassword(string encoded)
    {
        var bytes = new byte[encoded.Length];
        if (!Convert.TryFromBase64String(encoded, bytes, out int length)) return null;
        string credentials;
        try
        {
            credentials = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
        int colon = credentials.IndexOf(':', StringComparison.Ordinal);
        return colon >= 0 && credentials[(colon + 1)..] is { Length: > 0 } password ? password : null;
    }
}
