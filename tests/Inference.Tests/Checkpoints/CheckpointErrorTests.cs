using System.Diagnostics;
using FluentAssertions;
using Qwen.Inference.Checkpoints;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// Every class of bad checkpoint fails with a message that names the problem: as an
/// <see cref="InvalidModelException"/> from the library, and from the real <c>qwen</c>
/// process as exit code 2 with exactly one <c>error:</c> line, writing nothing.
/// </summary>
public sealed class CheckpointErrorTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("qwen-hf-bad-").FullName;

    public static IEnumerable<object[]> Defects => BadCheckpoints.Names;

    [Theory]
    [MemberData(nameof(Defects))]
    public void Library_reports_the_defect(string defect)
    {
        string dir = Path.Combine(_root, defect);
        BadCheckpoints.Write(dir, defect);
        var open = () => HuggingFaceCheckpoint.Open(dir).Dispose();
        string message = open.Should().Throw<InvalidModelException>().Which.Message;
        output.WriteLine(message);
        message.Should().Contain(BadCheckpoints.ExpectedMessages[defect]);
    }

    [Theory]
    [MemberData(nameof(Defects))]
    public async Task Cli_exits_2_with_one_error_line(string defect)
    {
        string dir = Path.Combine(_root, defect);
        BadCheckpoints.Write(dir, defect);
        string output = Path.Combine(_root, defect + "-out");
        var (code, stdout, stderr) = await RunQwen("build-model", "--from-hf", dir, "--dtype", "int4", "--out", output, "--quiet");
        code.Should().Be(2, stdout + stderr);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().ContainSingle();
        lines[0].Should().StartWith("error: ").And.Contain(BadCheckpoints.ExpectedMessages[defect]);
        Directory.Exists(output).Should().BeFalse("nothing is written for a bad checkpoint");
    }

    [Fact]
    public async Task Cli_refuses_a_preset_together_with_a_checkpoint()
    {
        string dir = Path.Combine(_root, "ok");
        BadCheckpoints.Write(dir, "none");
        var (code, _, stderr) = await RunQwen("build-model", "--from-hf", dir, "--preset", "tiny", "--out", Path.Combine(_root, "ok-out"));
        code.Should().Be(2);
        stderr.Trim().Should().Be("error: --from-hf takes the shape from the checkpoint's config.json; drop --preset / --config");
    }

    [Fact]
    public async Task Cli_refuses_to_write_into_the_checkpoint_directory()
    {
        string dir = Path.Combine(_root, "same");
        BadCheckpoints.Write(dir, "none");
        var (code, _, stderr) = await RunQwen("build-model", "--from-hf", dir, "--out", dir);
        code.Should().Be(2);
        stderr.Trim().Should().StartWith("error: the output directory must differ from the checkpoint directory");
        Directory.Exists(Path.Combine(dir, "onnx")).Should().BeFalse();
    }

    [Fact]
    public async Task Cli_names_an_unknown_dtype()
    {
        var (code, _, stderr) = await RunQwen("build-model", "--preset", "tiny", "--dtype", "int3", "--out", Path.Combine(_root, "x"));
        code.Should().Be(2);
        stderr.Trim().Should().Be("error: --dtype must be 'fp32', 'int8' or 'int4', not 'int3'");
    }

    /// <summary>Runs the built <c>qwen</c> tool as its own process.</summary>
    internal static async Task<(int Code, string Stdout, string Stderr)> RunQwen(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "qwen.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        Task<string> stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
