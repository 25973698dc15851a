using System.Text;
using System.Text.Json;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>The served OpenAPI document covers the public routes; every curl example in the README works as written.</summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class DocumentationTests(EmbeddedApiCollection.Fixture fixture, ITestOutputHelper output)
{
    private readonly EmbeddedApi _api = fixture.Api;

    [Fact]
    public async Task The_OpenAPI_document_describes_every_public_route()
    {
        var (status, document) = await _api.GetJsonAsync("/openapi/v1.json");
        status.Should().Be(200);
        document.GetProperty("openapi").GetString().Should().StartWith("3.");
        var paths = document.GetProperty("paths");
        foreach (var (path, method) in (IEnumerable<(string, string)>)
                 [
                     ("/v1/sentiment", "post"), ("/v1/conversations/{userId}/messages", "post"), ("/v1/conversations/{userId}", "get"),
                     ("/v1/conversations/{userId}", "delete"), ("/v1/chat/completions", "post"), ("/v1/models", "get"),
                     ("/v1/models/{model}", "get"), ("/healthz", "get"), ("/readyz", "get"),
                 ])
        {
            paths.TryGetProperty(path, out var item).Should().BeTrue($"{path} is documented");
            item.TryGetProperty(method, out _).Should().BeTrue($"{method.ToUpperInvariant()} {path} is documented");
        }
        string schemas = document.GetProperty("components").GetProperty("schemas").GetRawText();
        schemas.Should().Contain("\"finish_reason\"").And.Contain("\"max_completion_tokens\"").And.Contain("\"request_id\"", "schemas use the wire names");
    }

    [Fact]
    public async Task Every_curl_example_in_the_README_works_as_written()
    {
        var commands = CurlCommands(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"))).ToList();
        commands.Should().HaveCountGreaterThanOrEqualTo(8);
        string host = new Uri(_api.Url).Authority;
        foreach (string command in commands)
        {
            // Only the address changes; --fail-with-body makes an HTTP error fail the command.
            string run = command.Replace("localhost:5000", host, StringComparison.Ordinal) + " --fail-with-body";
            var (exit, stdout, stderr) = await CommandLine.RunAsync("bash", ["-c", run], null, TimeSpan.FromMinutes(1));
            output.WriteLine($"$ {command}\n{stdout}");
            exit.Should().Be(0, $"`{command}` failed: {stdout} {stderr}");
            stdout.Should().NotContain("\"error\":{").And.NotContain("\"status\":4");
        }
    }

    /// <summary>The curl commands of the README's shell blocks, with backslash-continued lines joined.</summary>
    private static IEnumerable<string> CurlCommands(string readme)
    {
        bool inShell = false;
        var current = new StringBuilder();
        foreach (string raw in readme.Split('\n'))
        {
            string line = raw.TrimEnd();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inShell = !inShell && line is "```sh" or "```bash";
                continue;
            }
            if (!inShell) continue;
            if (current.Length == 0 && !line.StartsWith("curl ", StringComparison.Ordinal)) continue;
            bool continues = line.EndsWith('\\');
            current.Append(continues ? line[..^1] : line).Append(' ');
            if (continues) continue;
            yield return current.ToString().Trim();
            current.Clear();
        }
    }
}
