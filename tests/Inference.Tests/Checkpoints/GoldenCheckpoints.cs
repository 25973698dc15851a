using System.Collections.Concurrent;
using FluentAssertions;
using Qwen.Cli;
using Qwen.Inference.Models;
using Qwen.Inference.Tests.Golden;
using Xunit;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// The golden hash-rule weights written as Hugging Face checkpoints (per dtype and storage) and
/// their conversions through <c>qwen build-model --from-hf</c>, each made once per test run.
/// </summary>
public sealed class GoldenCheckpoints : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<string>> _dirs = new();

    public string Root { get; } = Directory.CreateTempSubdirectory("qwen-hf-golden-").FullName;

    public static IWeightSource GoldenWeights => new HashWeightSource(GoldenCases.Config, 0);

    /// <summary>The checkpoint directory of the golden weights stored as <paramref name="dtype"/> (F32, BF16, F16).</summary>
    public string Checkpoint(string dtype, CheckpointStorage storage) => Once($"hf-{dtype}-{storage}", dir =>
        HuggingFaceCheckpointWriter.Write(dir, GoldenCases.ConfigJson, GoldenWeights, dtype, storage));

    /// <summary>The model directory converted from <see cref="Checkpoint"/> with the given --dtype.</summary>
    public string Converted(string dtype, CheckpointStorage storage, string weightType) => Once($"onnx-{dtype}-{storage}-{weightType}", dir =>
    {
        string checkpoint = Checkpoint(dtype, storage);
        int exit = CliApp.RunAsync(["build-model", "--from-hf", checkpoint, "--dtype", weightType, "--out", dir, "--quiet"])
            .GetAwaiter().GetResult();
        exit.Should().Be(0, $"converting the {dtype} {storage} checkpoint to {weightType}");
    });

    private string Once(string key, Action<string> make) => _dirs.GetOrAdd(key, k => new Lazy<string>(() =>
    {
        string dir = Path.Combine(Root, k);
        make(dir);
        return dir;
    })).Value;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory must not fail the run.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class GoldenCheckpointCollection : ICollectionFixture<GoldenCheckpoints>
{
    public const string Name = "golden checkpoints";
}
