using System.Net.Http.Json;
using System.Text.Json;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.TestSupport;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// The Api in its embedded default (one silo in-process, in-memory storage) as a real child
/// process on loopback, serving the tiny model; killed and deleted on dispose.
/// </summary>
public sealed class EmbeddedApi : IAsyncDisposable
{
    private readonly string _modelDirectory;

    private EmbeddedApi(ServiceProcess process, string modelDirectory)
    {
        Process = process;
        _modelDirectory = modelDirectory;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
    }

    public ServiceProcess Process { get; }
    public HttpClient Http { get; }
    public string Url => Process.Url;

    /// <summary>Started with the test's log levels: warnings, and the request log lines on one line each.</summary>
    public static Task<EmbeddedApi> StartAsync(params string[] extraArgs) => StartCoreAsync(null, null, WithTestLogLevels(extraArgs));

    /// <summary>
    /// Started on <paramref name="port"/> (its plain-HTTP URL; an https:// one in --urls may come beside it) with settings in its
    /// environment, as an env file gives them, and the test's log levels.
    /// </summary>
    public static Task<EmbeddedApi> StartAsync(int port, IReadOnlyDictionary<string, string>? environment, params string[] extraArgs) =>
        StartCoreAsync(port, environment, WithTestLogLevels(extraArgs));

    private static string[] WithTestLogLevels(string[] extraArgs) =>
    [
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:Qwen.Api.Requests=Information",
        "--Logging:Console:FormatterOptions:SingleLine=true",
        .. extraArgs,
    ];

    /// <summary>Started with the log settings the Api ships (its appsettings.json), as an operator runs it.</summary>
    public static Task<EmbeddedApi> StartWithShippedLogSettingsAsync(params string[] extraArgs) => StartCoreAsync(null, null, extraArgs);

    /// <summary>
    /// Without a port given, on a free one, and on another if something took that one before the
    /// Api bound it (a free port is only free until someone binds it).
    /// </summary>
    private static async Task<EmbeddedApi> StartCoreAsync(int? port, IReadOnlyDictionary<string, string>? environment, string[] extraArgs)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(port ?? FreePort.Next(), environment, extraArgs);
            }
            catch (InvalidOperationException e) when (port is null && attempt < 3 && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                // Taken meanwhile: try a new port.
            }
        }
    }

    private static async Task<EmbeddedApi> StartOnceAsync(int port, IReadOnlyDictionary<string, string>? environment, string[] extraArgs)
    {
        string model = Directory.CreateTempSubdirectory("qwen-api-model-").FullName;
        ModelDirectoryBuilder.Build(model, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        var process = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), port,
        [
            $"--Model:Path={model}",
            "--Model:Threads=1",
            "--Conversations:MaxNewTokens=6",
            "--Inference:DefaultMaxNewTokens=6",
            .. extraArgs,
        ], environment);
        var api = new EmbeddedApi(process, model);
        try
        {
            await process.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
            return api;
        }
        catch
        {
            await api.DisposeAsync();
            throw;
        }
    }

    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpRequestMessage request)
    {
        var response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    public async Task<(int Status, JsonElement Body)> PostJsonAsync(string path, object body)
    {
        var (status, json, response) = await SendAsync(new HttpRequestMessage(HttpMethod.Post, Url + path) { Content = JsonContent.Create(body) });
        response.Dispose();
        return (status, json);
    }

    public async Task<(int Status, JsonElement Body)> GetJsonAsync(string path)
    {
        var (status, json, response) = await SendAsync(new HttpRequestMessage(HttpMethod.Get, Url + path));
        response.Dispose();
        return (status, json);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
        try
        {
            Directory.Delete(_modelDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
