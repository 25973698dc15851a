using System.CommandLine;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Spectre.Console;

namespace Qwen.Cli.Commands;

/// <summary><c>qwen build-model</c>: writes a synthetic Qwen2 model directory.</summary>
internal static class BuildModelCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = "Shape preset: tiny | qwen1.5-0.5b (default tiny unless --config is given)" };
        var config = new Option<FileInfo?>("--config") { Description = "A Qwen2 config.json to take the shape from instead of a preset" };
        var weights = new Option<string>("--weights") { Description = "random (seeded) | hash (the golden hash rule, seed ignored)", DefaultValueFactory = _ => "random" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 42 };
        var dtype = new Option<string>("--dtype") { Description = "Weight type: fp32 | int8", DefaultValueFactory = _ => "fp32" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Model directory to write", Required = true };
        var noPositionIds = new Option<bool>("--no-position-ids") { Description = "Omit the position_ids input (positions come from attention_mask)" };
        var useCacheBranch = new Option<bool>("--use-cache-branch") { Description = "Add the use_cache_branch input of merged exports" };
        var kvDtype = new Option<string>("--kv-dtype") { Description = "KV cache element type: fp32 | fp16", DefaultValueFactory = _ => "fp32" };
        var noLogitsToKeep = new Option<bool>("--no-logits-to-keep") { Description = "Omit the num_logits_to_keep input (logits for every position)" };
        var kvLayout = new Option<string>("--kv-layout")
        {
            Description = "shared-buffer (GroupQueryAttention on a KV buffer updated in place; rows bit-identical alone and batched) | " +
                          "standard (attention_mask, opset-23 Attention: the Hugging Face export layout) | auto (default: standard " +
                          "when --no-position-ids, --use-cache-branch or --kv-dtype fp16 asks for an export variant, else shared-buffer)",
            DefaultValueFactory = _ => "auto",
        };
        var quiet = new Option<bool>("--quiet") { Description = "No progress display" };

        var command = new Command("build-model", "Build a synthetic Qwen2 model directory (ONNX decoder with KV cache, tokenizer, config).")
        {
            preset, config, weights, seed, dtype, output, noPositionIds, useCacheBranch, kvDtype, noLogitsToKeep, kvLayout, quiet,
        };
        command.SetAction((parse, ct) => CliApp.Guard(async () =>
        {
            QwenConfig shape = ResolveShape(parse.GetValue(preset), parse.GetValue(config));
            IWeightSource source = parse.GetValue(weights) switch
            {
                "random" => new HashWeightSource(shape, parse.GetValue(seed)),
                "hash" => new HashWeightSource(shape, 0),
                var other => throw new ArgumentException($"--weights must be 'random' or 'hash', not '{other}'"),
            };
            var options = new ModelBuildOptions
            {
                WeightType = parse.GetValue(dtype) switch
                {
                    "fp32" => WeightType.Fp32,
                    "int8" => WeightType.Int8,
                    var other => throw new ArgumentException($"--dtype must be 'fp32' or 'int8', not '{other}'"),
                },
                PositionIdsInput = !parse.GetValue(noPositionIds),
                UseCacheBranchInput = parse.GetValue(useCacheBranch),
                Float16KvCache = parse.GetValue(kvDtype) switch
                {
                    "fp32" => false,
                    "fp16" => true,
                    var other => throw new ArgumentException($"--kv-dtype must be 'fp32' or 'fp16', not '{other}'"),
                },
                LogitsToKeepInput = !parse.GetValue(noLogitsToKeep),
                KvLayout = parse.GetValue(kvLayout) switch
                {
                    "auto" => parse.GetValue(noPositionIds) || parse.GetValue(useCacheBranch) || parse.GetValue(kvDtype) == "fp16"
                        ? KvLayout.Standard
                        : KvLayout.SharedBuffer,
                    "standard" => KvLayout.Standard,
                    "shared-buffer" => KvLayout.SharedBuffer,
                    var other => throw new ArgumentException($"--kv-layout must be 'standard' or 'shared-buffer', not '{other}'"),
                },
            };
            string outDir = parse.GetValue(output)!.FullName;
            var started = System.Diagnostics.Stopwatch.StartNew();
            if (parse.GetValue(quiet) || Console.IsOutputRedirected)
            {
                await Task.Run(() => ModelDirectoryBuilder.Build(outDir, shape, source, options, null, ct), ct);
            }
            else
            {
                await AnsiConsole.Progress().StartAsync(async progress =>
                {
                    var task = progress.AddTask($"Building {shape.NumHiddenLayers}-layer model", maxValue: 1.0);
                    await Task.Run(() => ModelDirectoryBuilder.Build(outDir, shape, source, options,
                        new Progress<double>(f => task.Value = f), ct), ct);
                    task.Value = 1.0;
                });
            }
            long bytes = Directory.GetFiles(Path.Combine(outDir, "onnx")).Sum(f => new FileInfo(f).Length);
            Console.WriteLine($"Wrote {outDir} ({bytes / 1e6:F1} MB of ONNX, {Qwen2Parameters.TotalElementCount(shape) / 1e6:F1} M parameters, {options.WeightType}) in {started.Elapsed.TotalSeconds:F1} s");
            return 0;
        }));
        return command;
    }

    private static QwenConfig ResolveShape(string? preset, FileInfo? config)
    {
        if (preset is not null && config is not null) throw new ArgumentException("give either --preset or --config, not both");
        if (config is not null) return QwenConfig.Load(config.FullName);
        preset ??= "tiny";
        return QwenConfig.Presets.TryGetValue(preset, out var shape)
            ? shape
            : throw new ArgumentException($"unknown preset '{preset}'; choose one of: {string.Join(", ", QwenConfig.Presets.Keys)}");
    }
}
