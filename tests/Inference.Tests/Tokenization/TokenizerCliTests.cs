using Xunit;
using FluentAssertions;
using Qwen.Cli;
using Qwen.Cli.Commands;

namespace Qwen.Inference.Tests.Tokenization;

/// <summary>
/// tokenize / detokenize line handling: a bad line is reported on stderr with its line number,
/// its output line is null, the run continues, and the exit code is 2.
/// </summary>
public sealed class TokenizerCliTests
{
    private static async Task<(int Code, string[] Output, string Errors)> Encode(string input)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int code = await TokenizerLines.EncodeAsync(ReferenceVectors.Tokenizer, new StringReader(input), output, errors);
        return (code, Lines(output), errors.ToString());
    }

    private static async Task<(int Code, string[] Output, string Errors)> Decode(string input, bool skipSpecial = false)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int code = await TokenizerLines.DecodeAsync(ReferenceVectors.Tokenizer, skipSpecial, new StringReader(input), output, errors);
        return (code, Lines(output), errors.ToString());
    }

    private static string[] Lines(StringWriter writer) => writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task Encodes_one_json_string_per_line_with_special_tokens()
    {
        var (code, output, errors) = await Encode("\"Hello, world!\"\n\"<|im_start|>user\\n你好<|im_end|>\"\n\"\"\n");
        code.Should().Be(0);
        errors.Should().BeEmpty();
        output.Should().Equal("[9707,11,1879,0]", "[151644,872,198,108386,151645]", "[]");
    }

    [Fact]
    public async Task Malformed_lines_are_named_and_the_run_continues()
    {
        var (code, output, errors) = await Encode("\"ok\"\nnot json\n\n[1,2]\nnull\n\"also ok\"\n");
        code.Should().Be(CliApp.UsageError);
        output.Should().HaveCount(6);
        output[0].Should().StartWith("[");
        output[1..5].Should().AllBe("null");
        output[5].Should().StartWith("[");
        errors.Should().Contain("line 2:").And.Contain("line 3:").And.Contain("line 4:").And.Contain("line 5:").And.NotContain("line 1:").And.NotContain("line 6:");
        errors.Should().Contain("4 of 6 line(s) failed");
        errors.Should().NotContain("   at ");   // a message, not a stack trace
    }

    [Fact]
    public async Task Decodes_one_json_array_per_line()
    {
        var (code, output, _) = await Decode("[9707,11,1879,0]\n[151644,872,198,108386,151645]\n[]\n");
        code.Should().Be(0);
        output.Should().Equal("\"Hello, world!\"", "\"<|im_start|>user\\n你好<|im_end|>\"", "\"\"");
        (await Decode("[151644,872,198,108386,151645]\n", skipSpecial: true)).Output.Should().Equal("\"user\\n你好\"");
    }

    [Fact]
    public async Task Unknown_ids_and_malformed_arrays_are_named_and_the_run_continues()
    {
        var (code, output, errors) = await Decode("[1, 999999]\n[9707]\n[\"a\"]\n{}\n[-5]\n");
        code.Should().Be(CliApp.UsageError);
        output.Should().Equal("null", "\"Hello\"", "null", "null", "null");
        errors.Should().Contain("line 1: token id 999999 (position 1)");
        errors.Should().Contain("line 3:").And.Contain("line 4:").And.Contain("line 5: token id -5");
        errors.Should().NotContain("line 2:");
    }

    [Fact]
    public async Task The_commands_report_a_bad_tokenizer_file_in_one_line()
    {
        string path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
            int code = await CliApp.RunAsync(["tokenize", "--tokenizer", path]);
            code.Should().Be(CliApp.UsageError);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
