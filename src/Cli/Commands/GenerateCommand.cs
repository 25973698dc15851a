using System.CommandLine;
using System.Text.Json;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen generate</c>: from prompt token ids (prints the generated ids), or from a chat
/// prompt with the model's chat template (streams the reply text). Greedy unless sampling options are given.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model directory", Required = true };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt token ids, comma separated (e.g. 1,2,3); prints generated ids" };
        var prompt = new Option<string?>("--prompt") { Description = "A user message; the chat template is applied and the reply text is streamed" };
        var system = new Option<string?>("--system") { Description = "System message for --prompt (default: the model template's)" };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 32 };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature (implies sampling; 0 = greedy)" };
        var topK = new Option<int?>("--top-k") { Description = "Keep the k most likely tokens (implies sampling)" };
        var topP = new Option<float?>("--top-p") { Description = "Nucleus sampling mass in (0, 1] (implies sampling)" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for reproducible sampling (implies sampling)" };
        var repetitionPenalty = new Option<float>("--repetition-penalty") { Description = "Hugging Face repetition penalty (1 = off)", DefaultValueFactory = _ => 1f };
        var stopIds = new Option<string?>("--stop-ids") { Description = "Extra stop token ids, comma separated" };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0 = one per core)" };

        var command = new Command("generate",
            "Generate from prompt token ids (--prompt-ids, prints the new ids as a JSON array) or from a chat message (--prompt, streams the reply text).")
        {
            model, promptIds, prompt, system, maxNewTokens, temperature, topK, topP, seed, repetitionPenalty, stopIds, threads,
        };
        command.Validators.Add(result =>
        {
            bool hasIds = result.GetValue(promptIds) is not null, hasText = result.GetValue(prompt) is not null;
            if (hasIds == hasText) result.AddError("give exactly one of --prompt-ids and --prompt");
            if (hasIds && result.GetValue(system) is not null) result.AddError("--system needs --prompt");
        });
        command.SetAction((parse, ct) => CliApp.Guard(async () =>
        {
            float? t = parse.GetValue(temperature);
            int? k = parse.GetValue(topK);
            float? p = parse.GetValue(topP);
            ulong? s = parse.GetValue(seed);
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxNewTokens),
                DoSample = t is not null || k is not null || p is not null || s is not null,
                Temperature = t ?? 1f,
                TopK = k ?? 0,
                TopP = p ?? 1f,
                Seed = s,
                RepetitionPenalty = parse.GetValue(repetitionPenalty),
                StopTokenIds = parse.GetValue(stopIds) is { } stops ? CliApp.ParseIds(stops, "--stop-ids") : [],
            };
            using var session = DecoderSession.Open(parse.GetValue(model)!.FullName, new DecoderSessionOptions { IntraOpThreads = parse.GetValue(threads) });
            if (parse.GetValue(prompt) is { } text)
            {
                await ChatReply.StreamAsync(session, text, parse.GetValue(system), options, Console.Out,
                    note => Console.Error.WriteLine($"note: {note}"), ct);
                Console.WriteLine();
                return 0;
            }
            int[] ids = CliApp.ParseIds(parse.GetValue(promptIds)!, "--prompt-ids");
            var result = await Task.Run(() => new Generator(session).Generate(ids, options, cancellationToken: ct), ct);
            Console.WriteLine(JsonSerializer.Serialize(result.Tokens));
            return 0;
        }));
        return command;
    }
}
