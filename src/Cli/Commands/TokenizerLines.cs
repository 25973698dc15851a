using System.Text.Encodings.Web;
using System.Text.Json;
using Qwen.Inference.Tokenization;

namespace Qwen.Cli.Commands;

/// <summary>
/// The line protocol of <c>qwen tokenize</c> and <c>qwen detokenize</c>: one JSON value in per
/// line, one out. A malformed line is reported on the error writer with its line number, its
/// output line is <c>null</c> (so outputs stay aligned with inputs) and the run goes on; the
/// exit code is then <see cref="CliApp.UsageError"/>.
/// </summary>
public static class TokenizerLines
{
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Each line a JSON string; writes its token ids as a JSON array (special-token strings become special tokens).</summary>
    public static Task<int> EncodeAsync(BpeTokenizer tokenizer, TextReader input, TextWriter output, TextWriter errors, CancellationToken cancellationToken = default) =>
        ProcessAsync(input, output, errors, cancellationToken, line =>
        {
            string text = Parse<string>(line, "a JSON string such as \"hello\"");
            return JsonSerializer.Serialize(tokenizer.Encode(text));
        });

    /// <summary>Each line a JSON array of token ids; writes the decoded text as a JSON string.</summary>
    public static Task<int> DecodeAsync(BpeTokenizer tokenizer, bool skipSpecialTokens, TextReader input, TextWriter output, TextWriter errors,
        CancellationToken cancellationToken = default) =>
        ProcessAsync(input, output, errors, cancellationToken, line =>
        {
            int[] ids = Parse<int[]>(line, "a JSON array of token ids such as [9707, 11]");
            int unknown = Array.FindIndex(ids, id => !tokenizer.IsKnown(id));
            if (unknown >= 0)
                throw new FormatException($"token id {ids[unknown]} (position {unknown}) is not in the tokenizer's vocabulary of {tokenizer.VocabSize} ids");
            return JsonSerializer.Serialize(tokenizer.Decode(ids, skipSpecialTokens), Readable);
        });

    private static async Task<int> ProcessAsync(TextReader input, TextWriter output, TextWriter errors, CancellationToken cancellationToken, Func<string, string> convert)
    {
        int lineNumber = 0, failures = 0;
        while (await input.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            string result;
            try
            {
                result = convert(line);
            }
            catch (FormatException e)
            {
                failures++;
                await errors.WriteLineAsync($"error: line {lineNumber}: {e.Message}");
                result = "null";
            }
            await output.WriteLineAsync(result);
        }
        await output.FlushAsync(cancellationToken);
        if (failures > 0) await errors.WriteLineAsync($"{failures} of {lineNumber} line(s) failed; their output lines are null");
        return failures == 0 ? 0 : CliApp.UsageError;
    }

    private static T Parse<T>(string line, string expected) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(line) ?? throw new FormatException($"expected {expected}, got null");
        }
        catch (JsonException e)
        {
            string shown = line.Length > 60 ? line[..60] + "…" : line;
            throw new FormatException($"expected {expected}, got '{shown}' ({e.Message.Split(" Path:", 2)[0]})", e);
        }
    }
}
