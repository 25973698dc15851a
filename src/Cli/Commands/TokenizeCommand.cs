using System.CommandLine;

namespace Qwen.Cli.Commands;

/// <summary><c>qwen tokenize</c>: JSON strings in on stdin, JSON arrays of token ids out, line by line.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = TokenizerOption.Create();
        var command = new Command("tokenize",
            "Read one JSON string per line from stdin and write its token ids as a JSON array per line. " +
            "Special-token strings such as <|im_end|> become special tokens. A malformed line is reported with its " +
            "number on stderr, gets 'null' as its output line, and the run continues (exit code 2 at the end).")
        {
            tokenizer,
        };
        command.SetAction((parse, ct) => CliApp.Guard(() =>
            TokenizerLines.EncodeAsync(TokenizerOption.Load(parse.GetValue(tokenizer)), Console.In, Console.Out, Console.Error, ct)));
        return command;
    }
}
