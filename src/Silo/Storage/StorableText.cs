using System.Text;
using Qwen.Grains.Persistence;

namespace Qwen.Silo.Storage;

/// <summary>
/// What the conversation stores accept, identical for every implementation: text PostgreSQL can
/// hold (well-formed UTF-16, no NUL) and ids short enough for its btree indexes (an index entry
/// must stay under about 2.7 kB, and user id + turn id form one).
/// </summary>
public static class StorableText
{
    public const int MaxUserIdUtf8Bytes = 1024;
    public const int MaxTurnIdUtf8Bytes = 256;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <exception cref="ArgumentException">Empty, too long, or not storable.</exception>
    public static void ValidateUserId(string userId) => ValidateId(userId, MaxUserIdUtf8Bytes, "user id", nameof(userId));

    /// <exception cref="ArgumentException">The turn id or a message is not storable.</exception>
    public static void ValidateTurn(StoredTurn turn)
    {
        ArgumentNullException.ThrowIfNull(turn);
        ValidateId(turn.TurnId, MaxTurnIdUtf8Bytes, "turn id", nameof(turn));
        ValidateText(turn.UserMessage, "user message", nameof(turn));
        ValidateText(turn.AssistantReply, "assistant reply", nameof(turn));
        if (turn.Sentiment is { } sentiment
            && (sentiment.Label is not ("positive" or "negative") || !(sentiment.Score is >= 0 and <= 1)))
        {
            throw new ArgumentException(
                $"the turn's sentiment must be positive or negative with a score in [0, 1], not {sentiment.Label} {sentiment.Score}", nameof(turn));
        }
    }

    private static void ValidateId(string id, int maxBytes, string what, string parameter)
    {
        ArgumentNullException.ThrowIfNull(id, parameter);
        if (id.Length == 0)
        {
            throw new ArgumentException($"the {what} is empty", parameter);
        }

        int bytes = ValidateText(id, what, parameter);
        if (bytes > maxBytes)
        {
            throw new ArgumentException($"the {what} is {bytes} UTF-8 bytes long; at most {maxBytes} are allowed", parameter);
        }
    }

    private static int ValidateText(string text, string what, string parameter)
    {
        ArgumentNullException.ThrowIfNull(text, parameter);
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"the {what} contains a NUL character", parameter);
        }

        try
        {
            return StrictUtf8.GetByteCount(text);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"the {what} contains an unpaired surrogate (not valid Unicode text)", parameter, e);
        }
    }
}
