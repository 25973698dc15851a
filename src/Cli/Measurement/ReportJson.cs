using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qwen.Cli.Measurement;

/// <summary>How the benchmark commands write --json files.</summary>
internal static class ReportJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task WriteAsync<T>(FileInfo file, T report, CancellationToken cancellationToken)
    {
        await using (var stream = File.Create(file.FullName))
        {
            await JsonSerializer.SerializeAsync(stream, report, Options, cancellationToken).ConfigureAwait(false);
        }
        Console.WriteLine($"Wrote {file.FullName}");
    }
}
