using System.CommandLine;
using System.Text.Json;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Cli.Commands;

/// <summary><c>qwen generate</c>: generates from prompt token ids, greedy unless sampling options are given.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model directory", Required = true };
        var promptIds = new Option<string>("--prompt-ids") { Description = "Prompt token ids, comma separated (e.g. 1,2,3)", Required = true };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 32 };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature (implies sampling; 0 = greedy)" };
        var topK = new Option<int?>("--top-k") { Description = "Keep the k most likely tokens (implies sampling)" };
        var topP = new Option<float?>("--top-p") { Description = "Nucleus sampling mass in (0, 1] (implies sampling)" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for reproducible sampling (implies sampling)" };
        var repetitionPenalty = new Option<float>("--repetition-penalty") { Description = "Hugging Face repetition penalty (1 = off)", DefaultValueFactory = _ => 1f };
        var stopIds = new Option<string?>("--stop-ids") { Description = "Extra stop token ids, comma separated" };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0 = one per core)" };

        var command = new Command("generate", "Generate token ids from prompt token ids and print them as a JSON array.")
        {
            model, promptIds, maxNewTokens, temperature, topK, topP, seed, repetitionPenalty, stopIds, threads,
        };
        command.SetAction((parse, ct) => CliApp.Guard(async () =>
        {
            int[] prompt = CliApp.ParseIds(parse.GetValue(promptIds)!, "--prompt-ids");
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
            var result = await Task.Run(() => new Generator(session).Generate(prompt, options, cancellationToken: ct), ct);
            Console.WriteLine(JsonSerializer.Serialize(result.Tokens));
            return 0;
        }));
        return command;
    }
}
