using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Prompts;
using Qwen.Inference.Tokenization;

namespace Qwen.Cli.Commands;

/// <summary>
/// Generates the assistant's reply to one user prompt with the model's chat template and
/// writes the text as it is produced (the incremental decoder never splits a character).
/// </summary>
public static class ChatReply
{
    /// <param name="systemMessage">The system message; null uses the model template's default.</param>
    /// <param name="report">Receives notes for the user, such as a truncated prompt.</param>
    /// <returns>The generation result (token ids, finish reason).</returns>
    public static async Task<GenerationResult> StreamAsync(DecoderSession session, string prompt, string? systemMessage,
        GenerationOptions options, TextWriter output, Action<string> report, CancellationToken cancellationToken = default)
    {
        var tokenizer = BpeTokenizer.Load(session.Model.TokenizerPath);
        var template = ChatTemplate.FromTokenizerConfig(session.Model.Path);
        var chat = new ChatPrompt(tokenizer, template, new ChatPromptOptions { SystemMessage = systemMessage });
        var built = chat.Build([ChatMessage.User(prompt)], session.ContextWindow, options.MaxNewTokens);
        if (built.Truncation.IsTruncated) report($"prompt {built.Truncation} to fit the context window");

        // <|im_end|> ends the reply even when generation_config.json does not list it.
        options = options with { StopTokenIds = [.. options.StopTokenIds, tokenizer.SpecialTokenId("<|im_end|>")] };
        // A synthetic or padded model may pick ids the tokenizer lacks; they print nothing, as in Hugging Face.
        var decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: true, skipUnknownIds: true);
        var pieces = System.Threading.Channels.Channel.CreateUnbounded<string>(new() { SingleReader = true, SingleWriter = true });
        var generation = Task.Run(() =>
        {
            try
            {
                return new Generator(session).Generate(built.Ids, options, id =>
                {
                    string text = decoder.Push(id);
                    if (text.Length > 0) pieces.Writer.TryWrite(text);
                }, cancellationToken);
            }
            finally
            {
                pieces.Writer.TryWrite(decoder.Flush());
                pieces.Writer.TryComplete();
            }
        }, CancellationToken.None); // the generator observes the token; the channel must always complete
        await foreach (string text in pieces.Reader.ReadAllAsync(CancellationToken.None))
        {
            await output.WriteAsync(text);
            await output.FlushAsync(CancellationToken.None);
        }
        return await generation;
    }
}
