using Qwen.Inference.Engine;
using Qwen.Inference.Prompts;
using Qwen.Inference.Tokenization;

namespace Qwen.Grains;

/// <summary>
/// The process's one model: the decoder session with its tokenizer and chat template. Loaded
/// once and shared by every request (the session is thread-safe); disposing it closes the session.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    /// <summary>Takes ownership of <paramref name="session"/>.</summary>
    public LoadedModel(DecoderSession session, BpeTokenizer tokenizer, ChatTemplate template)
    {
        Session = session;
        Tokenizer = tokenizer;
        Template = template;
    }

    public DecoderSession Session { get; }
    public BpeTokenizer Tokenizer { get; }
    public ChatTemplate Template { get; }

    /// <exception cref="Qwen.Inference.InvalidModelException">The directory does not hold a usable model.</exception>
    public static LoadedModel Open(string modelDirectory, DecoderSessionOptions? options = null)
    {
        var session = DecoderSession.Open(modelDirectory, options);
        try
        {
            return new LoadedModel(session, BpeTokenizer.Load(session.Model.TokenizerPath), ChatTemplate.FromTokenizerConfig(session.Model.Path));
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public void Dispose() => Session.Dispose();
}
