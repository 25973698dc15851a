using System.Text.Json;

namespace Qwen.Api.Endpoints;

/// <summary>
/// Reads a request body as one JSON object, reporting exactly what is wrong with it
/// (not JSON, not an object, too large, a field of the wrong type).
/// </summary>
internal sealed class JsonBody
{
    private readonly JsonElement _root;

    private JsonBody(JsonElement root) => _root = root;

    public static async Task<(JsonBody? Body, IResult? Error)> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
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
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            tooLarge = true;
        }
        if (tooLarge)
            return (null, ApiProblem.Problem(StatusCodes.Status413PayloadTooLarge, "Request too large", $"the body is larger than the limit of {maxBytes} bytes"));
        try
        {
            using var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return (null, ApiProblem.BadRequest($"the body must be a JSON object, not {Describe(document.RootElement.ValueKind)}"));
            return (new JsonBody(document.RootElement.Clone()), null);
        }
        catch (JsonException e)
        {
            return (null, ApiProblem.BadRequest($"the body is not valid JSON: {e.Message}"));
        }
    }

    /// <summary>A required string field; null with an error message when absent or not a string.</summary>
    public string? RequiredString(string name, out string? error)
    {
        error = null;
        if (!_root.TryGetProperty(name, out var value))
        {
            error = $"the field '{name}' is required";
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            error = $"the field '{name}' must be a string, not {Describe(value.ValueKind)}";
            return null;
        }
        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException e)
        {
            error = $"the field '{name}' is not valid text: {e.Message}";
            return null;
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.String => "a string",
        _ => "nothing",
    };
}
