using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Qwen.Deploy.Tests;

/// <summary>
/// A Hugging Face hub on loopback for one repository, speaking the part of the hub's HTTP API that
/// fetch-model.sh uses: the recursive file listing (/api/models/REPO/tree/REV, with the git blob id
/// of small files and the LFS sha256 of large ones) and file downloads (/REPO/resolve/REV/PATH,
/// large files redirected to a second path as the hub redirects them to its CDN, byte ranges served).
/// The build machines cannot reach the real hub; this lets the script's real downloads, resumes and
/// checksum checks run.
/// </summary>
public sealed class LocalHub : IAsyncDisposable
{
    private const long LfsThreshold = 10 * 1024 * 1024;
    private readonly WebApplication _app;
    private readonly string _repo;
    private readonly string _directory;

    private LocalHub(WebApplication app, string repo, string directory)
    {
        _app = app;
        _repo = repo;
        _directory = directory;
    }

    public string Endpoint => _app.Urls.First();

    /// <summary>Every request: "METHOD PATH [Range: ...]".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Checksums to advertise instead of the real ones (a corrupted upload, as a client sees it).</summary>
    public ConcurrentDictionary<string, string> AdvertisedChecksumOverrides { get; } = new();

    public static async Task<LocalHub> StartAsync(string repo, string directory)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var hub = new LocalHub(app, repo, directory);
        app.Use(async (context, next) =>
        {
            string range = context.Request.Headers.Range.ToString();
            hub.Requests.Enqueue($"{context.Request.Method} {context.Request.Path}{(range.Length > 0 ? " Range: " + range : "")}");
            await next(context);
        });
        app.MapGet("/api/models/{owner}/{name}/tree/{revision}", (string owner, string name, string revision) =>
            $"{owner}/{name}" == repo && revision == "main" ? Results.Json(hub.Listing()) : Results.NotFound());
        app.MapGet("/{owner}/{name}/resolve/{revision}/{**path}", (string owner, string name, string revision, string path) =>
        {
            string? file = hub.Find(owner, name, revision, path);
            if (file is null) return Results.NotFound();
            return new FileInfo(file).Length >= LfsThreshold || IsWeights(path)
                ? Results.Redirect($"/cdn/{owner}/{name}/{path}")
                : Results.File(file, "application/octet-stream", enableRangeProcessing: true);
        });
        app.MapGet("/cdn/{owner}/{name}/{**path}", (string owner, string name, string path) =>
            hub.Find(owner, name, "main", path) is { } file
                ? Results.File(file, "application/octet-stream", enableRangeProcessing: true)
                : Results.NotFound());
        await app.StartAsync();
        return hub;
    }

    private string? Find(string owner, string name, string revision, string path)
    {
        if ($"{owner}/{name}" != _repo || revision != "main" || path.Contains("..", StringComparison.Ordinal)) return null;
        string file = Path.Combine(_directory, path);
        return File.Exists(file) ? file : null;
    }

    private List<object> Listing()
    {
        var entries = new List<object>();
        foreach (string directory in Directory.EnumerateDirectories(_directory, "*", SearchOption.AllDirectories))
        {
            entries.Add(new Dictionary<string, object> { ["type"] = "directory", ["path"] = Relative(directory), ["oid"] = new string('0', 40), ["size"] = 0 });
        }

        foreach (string file in Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories))
        {
            string path = Relative(file);
            long size = new FileInfo(file).Length;
            var entry = new Dictionary<string, object> { ["type"] = "file", ["path"] = path, ["size"] = size };
            if (size >= LfsThreshold || IsWeights(path))
            {
                string sha256 = AdvertisedChecksumOverrides.TryGetValue(path, out string? wrong) ? wrong : Sha256(file);
                entry["oid"] = Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes(sha256)));
                entry["size"] = 134; // the size of the LFS pointer kept in git
                entry["lfs"] = new Dictionary<string, object> { ["oid"] = sha256, ["size"] = size, ["pointerSize"] = 134 };
            }
            else
            {
                entry["oid"] = AdvertisedChecksumOverrides.TryGetValue(path, out string? wrong) ? wrong : GitBlobId(file);
            }

            entries.Add(entry);
        }

        return entries;
    }

    private string Relative(string path) => Path.GetRelativePath(_directory, path).Replace('\\', '/');

    private static bool IsWeights(string path) =>
        path.EndsWith(".onnx", StringComparison.Ordinal) || path.Contains(".onnx_data", StringComparison.Ordinal)
        || path.EndsWith(".safetensors", StringComparison.Ordinal);

    private static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>git's blob id: sha1 of "blob SIZE\0" followed by the content.</summary>
    private static string GitBlobId(string file)
    {
        byte[] content = File.ReadAllBytes(file);
        byte[] header = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        return Convert.ToHexStringLower(SHA1.HashData([.. header, .. content]));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
