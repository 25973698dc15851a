using System.CommandLine;

namespace Qwen.Cli.Commands;

/// <summary><c>qwen detokenize</c>: JSON arrays of token ids in on stdin, JSON strings out, line by line.</summary>
internal static class DetokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = TokenizerOption.Create();
        var skipSpecial = new Option<bool>("--skip-special-tokens") { Description = "Leave special tokens such as <|im_end|> out of the text" };
        var command = new Command("detokenize",
            "Read one JSON array of token ids per line from stdin and write the text as a JSON string per line. " +
            "A malformed line or an unknown id is reported with its line number on stderr, gets 'null' as its output " +
            "line, and the run continues (exit code 2 at the end).")
        {
            tokenizer, skipSpecial,
        };
        command.SetAction((parse, ct) => CliApp.Guard(() =>
            TokenizerLines.DecodeAsync(TokenizerOption.Load(parse.GetValue(tokenizer)), parse.GetValue(skipSpecial), Console.In, Console.Out, Console.Error, ct)));
        return command;
    }
}
