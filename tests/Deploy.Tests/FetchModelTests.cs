using System.Globalization;
using FluentAssertions;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// deploy/fetch-model.sh: its message when the hub cannot be reached, its argument errors, and
/// its downloads from a hub on loopback (<see cref="LocalHub"/>): selection of one export's files,
/// resume of a partial file, checksum refusal, and a directory the engine loads.
/// </summary>
public sealed class FetchModelTests : IDisposable
{
    private const string ExportRepo = "onnx-community/Qwen2.5-0.5B-Instruct";
    private static readonly string Script = DeployPaths.Deploy("fetch-model.sh");
    private readonly string _root = Directory.CreateTempSubdirectory("qwen-fetch-").FullName;

    [Theory]
    [InlineData("qwen2.5-0.5b-instruct-onnx")]
    [InlineData("Xenova/Qwen1.5-0.5B-Chat")]
    [InlineData("qwen1.5-0.5b-chat")]
    public async Task Without_network_it_says_so_plainly_and_leaves_nothing_behind(string name)
    {
        string endpoint = $"http://127.0.0.1:{FreePort.Next()}";
        string target = Path.Combine(_root, "models", "m");

        var run = await FetchAsync([name, "--out", target, "--qwen", DeployPaths.QwenCommand], endpoint);

        run.ExitCode.Should().Be(3, run.ToString());
        run.Stderr.Should().Contain($"cannot reach the Hugging Face hub at {endpoint}")
            .And.Contain("This machine has no network access to the hub")
            .And.Contain("set HF_ENDPOINT to a reachable mirror");
        Directory.Exists(Path.Combine(_root, "models")).Should().BeFalse("nothing is written before the hub answers");
    }

    [Theory]
    [InlineData(new string[0], "give the NAME of the model to fetch")]
    [InlineData(new[] { "qwen3-72b" }, "unknown model 'qwen3-72b': choose qwen2.5-0.5b-instruct")]
    [InlineData(new[] { "qwen1.5-0.5b-chat", "qwen2.5-0.5b-instruct" }, "one NAME only")]
    [InlineData(new[] { "--dtype", "int3", "qwen1.5-0.5b-chat" }, "--dtype must be int8, int4 or fp32, not 'int3'")]
    [InlineData(new[] { "--onnx-file", "model.onnx", "qwen1.5-0.5b-chat" }, "--onnx-file applies to the ONNX exports only")]
    [InlineData(new[] { "--dtype", "fp32", "qwen1.5-0.5b-chat-onnx" }, "--dtype applies to converted models only")]
    [InlineData(new[] { "--onnx-file", "../../etc/passwd", "qwen1.5-0.5b-chat-onnx" }, "--onnx-file takes a file name under onnx/ ending in .onnx")]
    [InlineData(new[] { "--out" }, "--out needs a value")]
    [InlineData(new[] { "--resume", "qwen1.5-0.5b-chat-onnx" }, "unknown option '--resume'")]
    [InlineData(new[] { "--revision", "main;rm", "qwen1.5-0.5b-chat-onnx" }, "--revision 'main;rm' has characters")]
    public async Task Bad_arguments_exit_2_with_the_reason(string[] arguments, string reason)
    {
        var run = await FetchAsync(arguments, "http://127.0.0.1:9");

        run.ExitCode.Should().Be(2, run.ToString());
        run.Stderr.Should().Contain(reason).And.Contain("Try 'fetch-model.sh --help'");
    }

    [Fact]
    public async Task Fetches_one_export_resuming_a_partial_file_and_the_engine_serves_it_like_the_original()
    {
        string repo = BuildExportRepository();
        await using var hub = await LocalHub.StartAsync(ExportRepo, repo);
        string target = Path.Combine(_root, "models", "qwen2.5-export");
        // A download cut off after 10 MiB of the weights' external data.
        string partial = Path.Combine(target + ".download", "onnx", "model.onnx_data.part");
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        const int cutAt = 10 * 1024 * 1024;
        File.WriteAllBytes(partial, File.ReadAllBytes(Path.Combine(repo, "onnx", "model.onnx_data"))[..cutAt]);

        var run = await FetchAsync(["qwen2.5-0.5b-instruct-onnx", "--onnx-file", "model.onnx", "--out", target], hub.Endpoint);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Stdout.Trim().Should().Be(target);
        run.Stderr.Should().Contain("onnx/model.onnx_data: resuming at 10 of")
            .And.Contain("onnx/model.onnx_data: sha256 verified")
            .And.Contain("config.json: git-sha1 verified");
        hub.Requests.Should().Contain(r => r.Contains("/onnx/model.onnx_data Range: bytes=" + cutAt.ToString(CultureInfo.InvariantCulture) + "-", StringComparison.Ordinal));
        Files(target).Should().BeEquivalentTo(
            ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx", "onnx/model.onnx_data"],
            "only the chosen export and the files a model directory needs are fetched");
        foreach (string file in Files(target))
        {
            File.ReadAllBytes(Path.Combine(target, file)).Should().Equal(File.ReadAllBytes(Path.Combine(repo, file)), file);
        }

        Directory.Exists(target + ".download").Should().BeFalse();
        ModelDirectory.Open(target).OnnxPath.Should().Be(Path.Combine(target, "onnx", "model.onnx"));
        string fetchedTokens = await GenerateAsync(target);
        fetchedTokens.Should().MatchRegex(@"^\[\d+(,\d+){3}\]$").And.Be(await GenerateAsync(repo, "model.onnx"));

        var again = await FetchAsync(["qwen2.5-0.5b-instruct-onnx", "--onnx-file", "model.onnx", "--out", target], hub.Endpoint);
        again.ExitCode.Should().Be(0, again.ToString());
        again.Stderr.Should().Contain("already holds a model; nothing to do");
    }

    [Fact]
    public async Task A_file_that_does_not_match_the_hubs_checksum_is_refused_and_deleted()
    {
        string repo = BuildExportRepository();
        await using var hub = await LocalHub.StartAsync(ExportRepo, repo);
        hub.AdvertisedChecksumOverrides["onnx/model_int8.onnx"] = new string('a', 64);
        string target = Path.Combine(_root, "models", "tampered");

        var run = await FetchAsync(["qwen2.5-0.5b-instruct-onnx", "--out", target], hub.Endpoint);

        run.ExitCode.Should().Be(4, run.ToString());
        run.Stderr.Should().Contain($"onnx/model_int8.onnx does not match the hub's checksum (sha256 ")
            .And.Contain($"expected {new string('a', 64)}");
        File.Exists(Path.Combine(target + ".download", "onnx", "model_int8.onnx.part")).Should().BeFalse();
        Directory.Exists(target).Should().BeFalse();
    }

    [Fact]
    public async Task An_export_file_the_repository_lacks_is_named_with_the_ones_it_has()
    {
        string repo = BuildExportRepository();
        await using var hub = await LocalHub.StartAsync(ExportRepo, repo);

        var run = await FetchAsync(["qwen2.5-0.5b-instruct-onnx", "--onnx-file", "model_q4.onnx", "--out", Path.Combine(_root, "q4")], hub.Endpoint);

        run.ExitCode.Should().Be(2, run.ToString());
        run.Stderr.Should().Contain("has no onnx/model_q4.onnx; it has: model.onnx, model_int8.onnx");
    }

    [Fact]
    public async Task Fetches_official_safetensors_and_converts_them_into_the_model_the_synthetic_builder_makes_from_the_same_weights()
    {
        string synthetic = Path.Combine(_root, "synthetic");
        ModelDirectoryBuilder.Build(synthetic, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        // The official repositories' layout: config, tokenizer files, one model.safetensors, a model card.
        string repo = Path.Combine(_root, "hub-safetensors");
        Directory.CreateDirectory(repo);
        foreach (string file in new[] { "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(synthetic, file), Path.Combine(repo, file));
        }
        SafetensorsCheckpoint.Write(Path.Combine(repo, "model.safetensors"), QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7));
        File.WriteAllText(Path.Combine(repo, "README.md"), "# a model card\n");
        File.WriteAllText(Path.Combine(repo, "LICENSE"), "license text\n");
        await using var hub = await LocalHub.StartAsync("Qwen/Qwen2.5-0.5B-Instruct", repo);
        string target = Path.Combine(_root, "models", "qwen2.5-0.5b-instruct");

        var run = await FetchAsync(["qwen2.5-0.5b-instruct", "--dtype", "fp32", "--out", target, "--qwen", DeployPaths.QwenCommand], hub.Endpoint);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Stderr.Should().Contain("model.safetensors: sha256 verified").And.Contain("build-model --from-hf");
        hub.Requests.Should().NotContain(r => r.Contains("README.md", StringComparison.Ordinal) || r.Contains("LICENSE", StringComparison.Ordinal));
        Directory.Exists(target + ".download").Should().BeFalse("the checkpoint is removed once converted");
        ModelDirectory.Open(target);
        string tokens = await GenerateAsync(target);
        tokens.Should().MatchRegex(@"^\[\d+(,\d+){3}\]$").And.Be(await GenerateAsync(synthetic));
    }

    /// <summary>
    /// A repository shaped like the ONNX exports on the hub: tokenizer and config files, a README,
    /// onnx/model.onnx with external data, and onnx/model_int8.onnx, here the tiny model's graph.
    /// </summary>
    private string BuildExportRepository()
    {
        string repo = Path.Combine(_root, "hub-repo");
        if (Directory.Exists(repo)) return repo;
        ModelDirectoryBuilder.Build(repo, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        File.Copy(Path.Combine(repo, "onnx", "model.onnx"), Path.Combine(repo, "onnx", "model_int8.onnx"));
        File.WriteAllText(Path.Combine(repo, "README.md"), "# a model card\n");
        return repo;
    }

    private static List<string> Files(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(directory, f))];

    private static async Task<string> GenerateAsync(string model, string? onnxFile = null)
    {
        string directory = model;
        if (onnxFile is not null)
        {
            // The source repository has two graphs; the engine is given the one that was fetched.
            directory = model + "-one-graph";
            if (!Directory.Exists(directory))
            {
                Directory.CreateDirectory(Path.Combine(directory, "onnx"));
                foreach (string file in Files(model).Where(f => f != "onnx/model_int8.onnx"))
                {
                    File.Copy(Path.Combine(model, file), Path.Combine(directory, file));
                }
            }
        }

        var run = await ScriptRun.RunAsync("dotnet",
            [RepositoryPaths.BuiltAssembly("Cli", "qwen.dll"), "generate", "--model", directory, "--prompt-ids", "1,2,3,4", "--max-new-tokens", "4"]);
        run.ExitCode.Should().Be(0, run.ToString());
        return run.Stdout.Trim();
    }

    private static Task<ScriptRun> FetchAsync(IEnumerable<string> arguments, string endpoint) =>
        ScriptRun.RunAsync(Script, arguments, new Dictionary<string, string?> { ["HF_ENDPOINT"] = endpoint, ["HF_TOKEN"] = null, ["QWEN_MODELS_DIR"] = null });

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
