using System.CommandLine;
using Qwen.Inference.Building;
using Qwen.Inference.Checkpoints;
using Qwen.Inference.Models;
using Spectre.Console;

namespace Qwen.Cli.Commands;

/// <summary>
/// <c>qwen build-model</c>: writes a model directory, either synthetic (preset or config shape,
/// generated weights) or converted from a Hugging Face checkpoint (<c>--from-hf DIR</c>).
/// </summary>
internal static class BuildModelCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = "Shape preset: tiny | qwen1.5-0.5b (default tiny unless --config is given)" };
        var config = new Option<FileInfo?>("--config") { Description = "A Qwen2 config.json to take the shape from instead of a preset" };
        var weights = new Option<string>("--weights") { Description = "random (seeded) | hash (the golden hash rule, seed ignored)", DefaultValueFactory = _ => "random" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 42 };
        var fromHf = new Option<DirectoryInfo?>("--from-hf") { Description = "Convert this Hugging Face Qwen2 checkpoint (config.json + model.safetensors or sharded safetensors with index) instead of generating weights" };
        var dtype = new Option<string>("--dtype") { Description = "Weight type: fp32 | int8 | int4", DefaultValueFactory = _ => "fp32" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Model directory to write", Required = true };
        var noPositionIds = new Option<bool>("--no-position-ids") { Description = "Omit the position_ids input (positions come from attention_mask)" };
        var useCacheBranch = new Option<bool>("--use-cache-branch") { Description = "Add the use_cache_branch input of merged exports" };
        var kvDtype = new Option<string>("--kv-dtype") { Description = "KV cache element type: fp32 | fp16 (half the KV memory; attention computed in float16) | int8 (a quarter; scales calibrated at build, shared-buffer layout only)", DefaultValueFactory = _ => "fp32" };
        var noLogitsToKeep = new Option<bool>("--no-logits-to-keep") { Description = "Omit the num_logits_to_keep input (logits for every position)" };
        var kvLayout = new Option<string>("--kv-layout")
        {
            Description = "shared-buffer (GroupQueryAttention on a KV buffer updated in place; rows bit-identical alone and batched) | " +
                          "standard (attention_mask, opset-23 Attention: the Hugging Face export layout) | auto (default: shared-buffer unless " +
                          "head_dim is not a multiple of 8 or --no-position-ids or --use-cache-branch asks for an export variant)",
            DefaultValueFactory = _ => "auto",
        };
        var promptLanes = new Option<int>("--prompt-lanes")
        {
            Description = "Prompt chunks one model call carries beside its decode rows (shared-buffer layout; 0 = none)",
            DefaultValueFactory = _ => new ModelBuildOptions().PromptLanes,
        };
        var quiet = new Option<bool>("--quiet") { Description = "No progress display" };

        var command = new Command("build-model", "Build a Qwen2 model directory (ONNX decoder with KV cache, tokenizer, config): synthetic, or converted from a Hugging Face checkpoint with --from-hf.")
        {
            fromHf, preset, config, weights, seed, dtype, output, noPositionIds, useCacheBranch, kvDtype, noLogitsToKeep, kvLayout, promptLanes, quiet,
        };
        command.SetAction((parse, ct) => CliApp.Guard(async () =>
        {
            var options = new ModelBuildOptions
            {
                WeightType = parse.GetValue(dtype) switch
                {
                    "fp32" => WeightType.Fp32,
                    "int8" => WeightType.Int8,
                    "int4" => WeightType.Int4,
                    var other => throw new ArgumentException($"--dtype must be 'fp32', 'int8' or 'int4', not '{other}'"),
                },
                PositionIdsInput = !parse.GetValue(noPositionIds),
                UseCacheBranchInput = parse.GetValue(useCacheBranch),
                Float16KvCache = parse.GetValue(kvDtype) switch
                {
                    "fp32" or "int8" => false,
                    "fp16" => true,
                    var other => throw new ArgumentException($"--kv-dtype must be 'fp32', 'fp16' or 'int8', not '{other}'"),
                },
                Int8KvCache = parse.GetValue(kvDtype) == "int8",
                LogitsToKeepInput = !parse.GetValue(noLogitsToKeep),
                KvLayout = parse.GetValue(kvLayout) switch
                {
                    "auto" => KvLayout.Auto,
                    "standard" => KvLayout.Standard,
                    "shared-buffer" => KvLayout.SharedBuffer,
                    var other => throw new ArgumentException($"--kv-layout must be 'standard' or 'shared-buffer', not '{other}'"),
                },
                PromptLanes = parse.GetValue(promptLanes) is >= 0 and <= 16 and var lanes
                    ? lanes
                    : throw new ArgumentException("--prompt-lanes must be between 0 and 16"),
            };
            string outDir = parse.GetValue(output)!.FullName;
            bool showProgress = !parse.GetValue(quiet) && !Console.IsOutputRedirected;
            var started = System.Diagnostics.Stopwatch.StartNew();
            QwenConfig shape;
            string source;
            if (parse.GetValue(fromHf) is DirectoryInfo checkpoint)
            {
                if (parse.GetValue(preset) is not null || parse.GetValue(config) is not null)
                    throw new ArgumentException("--from-hf takes the shape from the checkpoint's config.json; drop --preset / --config");
                ConversionResult result = await WithProgress(showProgress, "Converting checkpoint",
                    p => HuggingFaceConverter.Convert(checkpoint.FullName, outDir, options, p, ct), ct);
                shape = result.Config;
                source = $"from {result.WeightFiles.Count} safetensors file(s) stored as " +
                         $"{string.Join("/", result.StoredDtypes)}, with {string.Join(", ", result.CopiedFiles)}";
            }
            else
            {
                shape = ResolveShape(parse.GetValue(preset), parse.GetValue(config));
                IWeightSource weightSource = parse.GetValue(weights) switch
                {
                    "random" => new HashWeightSource(shape, parse.GetValue(seed)),
                    "hash" => new HashWeightSource(shape, 0),
                    var other => throw new ArgumentException($"--weights must be 'random' or 'hash', not '{other}'"),
                };
                await WithProgress(showProgress, $"Building {shape.NumHiddenLayers}-layer model", p =>
                {
                    ModelDirectoryBuilder.Build(outDir, shape, weightSource, options, p, ct);
                    return true;
                }, ct);
                source = $"{parse.GetValue(weights)} weights";
            }
            long bytes = Directory.GetFiles(Path.Combine(outDir, "onnx")).Sum(f => new FileInfo(f).Length);
            Console.WriteLine($"Wrote {outDir} ({bytes / 1e6:F1} MB of ONNX, {Qwen2Parameters.TotalElementCount(shape) / 1e6:F1} M parameters, {options.WeightType}, {source}) in {started.Elapsed.TotalSeconds:F1} s");
            return 0;
        }));
        return command;
    }

    private static async Task<T> WithProgress<T>(bool show, string title, Func<IProgress<double>?, T> build, CancellationToken ct)
    {
        if (!show) return await Task.Run(() => build(null), ct);
        T result = default!;
        await AnsiConsole.Progress().StartAsync(async progress =>
        {
            var task = progress.AddTask(title, maxValue: 1.0);
            result = await Task.Run(() => build(new Progress<double>(f => task.Value = f)), ct);
            task.Value = 1.0;
        });
        return result;
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
