using System.CommandLine;
using System.Globalization;
using Qwen.Inference.Engine;
using Qwen.Inference.Prompts;
using Qwen.Inference.Tokenization;

namespace Qwen.Cli.Commands;

/// <summary><c>qwen sentiment --model DIR TEXT</c>: prints positive|negative and its probability.</summary>
internal static class SentimentCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model directory", Required = true };
        var text = new Argument<string>("text") { Description = "The text to classify" };
        var maxInputTokens = new Option<int?>("--max-input-tokens") { Description = "Token budget of the text (longer texts keep their last clauses)" };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0 = one per core)" };
        var command = new Command("sentiment", "Classify the sentiment of a text as positive or negative, with its probability.")
        {
            model, text, maxInputTokens, threads,
        };
        command.SetAction((parse, ct) => CliApp.Guard(async () =>
        {
            var options = new SentimentPromptOptions();
            if (parse.GetValue(maxInputTokens) is { } budget) options = options with { MaxInputTokens = budget };
            string directory = parse.GetValue(model)!.FullName;
            using var session = DecoderSession.Open(directory, new DecoderSessionOptions { IntraOpThreads = parse.GetValue(threads) });
            var classifier = new SentimentClassifier(session, BpeTokenizer.Load(session.Model.TokenizerPath), options);
            var result = await Task.Run(() => classifier.Classify(parse.GetValue(text)!, ct), ct);
            if (result.Truncation.IsTruncated) await Console.Error.WriteLineAsync($"note: input {result.Truncation}");
            Console.WriteLine($"{result.Label}\t{result.Probability.ToString("F4", CultureInfo.InvariantCulture)}");
            return 0;
        }));
        return command;
    }
}
