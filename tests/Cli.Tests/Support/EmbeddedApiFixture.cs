using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Cli.Tests.Support;

/// <summary>
/// The tiny-preset model in a temporary directory, and the Api in its embedded default (one silo
/// in-process) serving it as a real process on loopback; killed and deleted at the end.
/// </summary>
public sealed class EmbeddedApiFixture : IAsyncLifetime
{
    private ServiceProcess? _api;

    public string ModelDirectory { get; } = Directory.CreateTempSubdirectory("qwen-cli-tiny-").FullName;

    public string ApiUrl => _api?.Url ?? throw new InvalidOperationException("the Api is not started");

    public ServiceProcess Api => _api ?? throw new InvalidOperationException("the Api is not started");

    public async Task InitializeAsync()
    {
        ModelDirectoryBuilder.Build(ModelDirectory, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        _api = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
        [
            $"--Model:Path={ModelDirectory}",
            "--Model:Threads=1",
            "--Inference:DefaultMaxNewTokens=6",
            "--Conversations:MaxNewTokens=6",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await _api.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync()
    {
        if (_api is not null) await _api.DisposeAsync();
        try
        {
            Directory.Delete(ModelDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory must not fail the run.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class EmbeddedApiCollection : ICollectionFixture<EmbeddedApiFixture>
{
    public const string Name = "embedded api";
}
