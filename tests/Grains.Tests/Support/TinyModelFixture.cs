using Xunit;
using Qwen.Grains;
using Qwen.Inference.Building;
using Qwen.Inference.Models;

namespace Qwen.Grains.Tests.Support;

/// <summary>
/// The tiny-preset model, built once per test run in a temporary directory deleted at the end,
/// and its one loaded session shared by every worker the tests create (as in a silo process).
/// </summary>
public sealed class TinyModelFixture : IDisposable
{
    public TinyModelFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("qwen-grains-tiny-").FullName;
        ModelDirectoryBuilder.Build(Directory, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        Model = LoadedModel.Open(Directory);
    }

    public string Directory { get; }

    public LoadedModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory must not fail the run.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModelFixture>
{
    public const string Name = "tiny model";
}
