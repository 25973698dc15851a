using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.Observability;

/// <summary>The embedded default: one Api process co-hosting its silo ("solo") on a tiny synthetic model.</summary>
public sealed class EmbeddedApi : IAsyncLifetime
{
    private readonly string _model = Directory.CreateTempSubdirectory("qwen-embedded-model-").FullName;
    private ServiceProcess _api = null!;

    public string Url => _api.Url;

    public async Task InitializeAsync()
    {
        ModelDirectoryBuilder.Build(_model, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        _api = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
        [
            $"--Model:Path={_model}",
            "--Model:Threads=1",
            "--Silo:SiloId=solo",
            "--Conversations:MaxNewTokens=6",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await _api.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_model, recursive: true);
    }
}
