using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Net.Http.Headers;

namespace Qwen.Api.Endpoints;

/// <summary>
/// A request body read as one JSON object, with typed field access that reports exactly what is
/// wrong (wrong content type, too large, invalid UTF-8, not JSON, not an object, an unknown
/// field, a field of the wrong type or out of range) as a <see cref="RequestRejectedException"/>.
/// A null field counts as absent, as OpenAI's clients send nulls for unset options.
/// </summary>
internal sealed class JsonBody
{
    /// <summary>Nesting beyond this is refused; no request of ours needs more than a few levels.</summary>
    public const int MaxDepth = 16;

    private readonly JsonElement _root;

    private JsonBody(JsonElement root) => _root = root;

    public JsonElement Root => _root;

    public static async Task<JsonBody> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        CheckContentType(request.ContentType);
        byte[] bytes = await ReadBytesAsync(request, maxBytes, cancellationToken);
        if (bytes.Length == 0) throw RequestRejectedException.BadRequest("the body is empty; a JSON object is expected");
        var status = Utf8.ToUtf16(bytes, new char[bytes.Length], out int validBytes, out _, replaceInvalidSequences: false);
        if (status == OperationStatus.InvalidData)
            throw RequestRejectedException.BadRequest($"the body is not valid UTF-8: invalid byte 0x{bytes[validBytes]:X2} at offset {validBytes}");
        try
        {
            // Duplicate keys are refused: two parsers (ours, a proxy's, a client's) must never read different values from one body.
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth, AllowDuplicateProperties = false });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw RequestRejectedException.BadRequest($"the body must be a JSON object, not {Describe(document.RootElement.ValueKind)}");
            return new JsonBody(document.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw RequestRejectedException.BadRequest($"the body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>JSON in UTF-8, or no content type at all; anything else gets 415.</summary>
    private static void CheckContentType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType)) return;
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
            throw new RequestRejectedException(StatusCodes.Status415UnsupportedMediaType, $"the Content-Type '{Shorten(contentType)}' cannot be parsed; send application/json");
        if (!type.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            throw new RequestRejectedException(StatusCodes.Status415UnsupportedMediaType, $"the Content-Type must be application/json, not '{Shorten(type)}'");
        if (media.Charset.HasValue && !media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            throw new RequestRejectedException(StatusCodes.Status415UnsupportedMediaType, $"the charset must be utf-8, not '{Shorten(media.Charset.Value ?? "")}'");
    }

    private static async Task<byte[]> ReadBytesAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        // Read at most maxBytes + 1; a larger body is drained (so the client sees the 413
        // rather than a reset connection) and refused.
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        bool tooLarge = request.ContentLength > maxBytes;
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (!tooLarge && buffer.Length + read <= maxBytes) buffer.Write(chunk, 0, read);
                else tooLarge = true;
            }
        }
        catch (IOException e)
        {
            // Kestrel's framing errors (a bad chunk size, one that overflows, a bad chunk end, ...) are the client's fault;
            // some come wrapped in a plain IOException.
            var framing = e as BadHttpRequestException ?? e.InnerException as BadHttpRequestException;
            if (framing?.StatusCode == StatusCodes.Status413PayloadTooLarge) tooLarge = true;
            else if (IsHangUp(request.HttpContext, e))
                throw new RequestRejectedException(StatusCodes.Status499ClientClosedRequest, "the client closed the connection before it sent the whole body");
            else throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the request body is malformed: {e.Message}");
        }
        if (tooLarge)
            throw new RequestRejectedException(StatusCodes.Status413PayloadTooLarge, $"the body is larger than the limit of {maxBytes} bytes");
        return buffer.ToArray();
    }

    /// <summary>
    /// The client went away while sending the body: the connection was reset or aborted, or it ended before the
    /// announced length (Kestrel reports the latter as a bad request, though nobody is left to read an answer).
    /// </summary>
    private static bool IsHangUp(HttpContext context, IOException e) =>
        context.RequestAborted.IsCancellationRequested || e is Microsoft.AspNetCore.Connections.ConnectionResetException
        || e.Message.StartsWith("Unexpected end of request content", StringComparison.Ordinal);

    /// <summary>Refuses any field not in <paramref name="known"/>, naming it and the accepted ones.</summary>
    public void RejectUnknownFields(IReadOnlyCollection<string> known)
    {
        foreach (var property in _root.EnumerateObject())
        {
            if (!known.Contains(property.Name))
                throw RequestRejectedException.BadRequest(
                    $"unknown field '{Shorten(property.Name)}'; this endpoint accepts {string.Join(", ", known.Select(k => $"'{k}'"))}", property.Name);
        }
    }

    public bool Has(string name) => Field(name) is not null;

    /// <summary>The field's value, or null when absent or null.</summary>
    public JsonElement? Field(string name) =>
        _root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public string RequiredString(string name) =>
        OptionalString(name) ?? throw RequestRejectedException.BadRequest($"the field '{name}' is required", name);

    public string? OptionalString(string name) => Field(name) is { } value ? AsString(value, name) : null;

    public bool? OptionalBool(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { } other => throw WrongType(name, "a boolean", other),
    };

    public int? OptionalInt(string name, int min, int max)
    {
        if (Field(name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Number) throw WrongType(name, "an integer", value);
        if (!value.TryGetInt64(out long number))
        {
            throw RequestRejectedException.BadRequest(value.TryGetDouble(out double d) && Math.Abs(d) < 1e15
                ? $"the field '{name}' must be an integer, not {Shorten(value.GetRawText())}"
                : $"the field '{name}' must be in [{min}, {max}] but was {Shorten(value.GetRawText())}", name);
        }
        if (number < min || number > max)
            throw RequestRejectedException.BadRequest($"the field '{name}' must be in [{min}, {max}] but was {number}", name);
        return (int)number;
    }

    public long? OptionalLong(string name)
    {
        if (Field(name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Number) throw WrongType(name, "an integer", value);
        return value.TryGetInt64(out long number) ? number
            : throw RequestRejectedException.BadRequest($"the field '{name}' must be a 64-bit integer, not {Shorten(value.GetRawText())}", name);
    }

    /// <summary>A finite number within [min, max] (exclusive of min when <paramref name="minExclusive"/>).</summary>
    public double? OptionalNumber(string name, double min, double max, bool minExclusive = false)
    {
        if (Field(name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Number) throw WrongType(name, "a number", value);
        string range = $"{(minExclusive ? "(" : "[")}{min}, {max}]";
        if (!value.TryGetDouble(out double number) || !double.IsFinite(number) || number > max || number < min || (minExclusive && number == min))
            throw RequestRejectedException.BadRequest($"the field '{name}' must be in {range} but was {Shorten(value.GetRawText())}", name);
        return number;
    }

    public static string AsString(JsonElement value, string name)
    {
        if (value.ValueKind != JsonValueKind.String) throw WrongType(name, "a string", value);
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw RequestRejectedException.BadRequest($"the field '{name}' is not valid text: {e.Message}", name);
        }
    }

    public static RequestRejectedException WrongType(string name, string expected, JsonElement value) =>
        RequestRejectedException.BadRequest($"the field '{name}' must be {expected}, not {Describe(value.ValueKind)}", name);

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.String => "a string",
        _ => "nothing",
    };

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
