using System.Text;

namespace Qwen.Inference.Tokenization;

/// <summary>
/// NFC for tokenizer input through <see cref="string.Normalize(NormalizationForm)"/>, which is ICU's.
/// ICU refuses ill-formed UTF-16, so lone surrogates become U+FFFD first; the byte-level BPE
/// would have encoded them as U+FFFD's UTF-8 bytes anyway.
/// </summary>
internal static class NfcText
{
    /// <summary>
    /// Without ICU the runtime stops at start with its own message; with globalization invariant mode
    /// forced on (DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1) Normalize would leave text as it is and
    /// every id after a decomposed character would be wrong, so that case is refused here.
    /// </summary>
    public static void EnsureAvailable()
    {
        if ("e\u0301".Normalize(NormalizationForm.FormC) != "\u00e9")
        {
            throw new PlatformNotSupportedException(
                "Unicode normalization (NFC) is unavailable: the process runs in globalization invariant mode "
                + "(DOTNET_SYSTEM_GLOBALIZATION_INVARIANT or System.Globalization.Invariant). "
                + "Qwen's tokenizer needs ICU (Debian: apt-get install libicu72); unset the invariant setting.");
        }
    }

    public static string Normalize(string text)
    {
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0) text = ReplaceLoneSurrogates(text);
        return text.Normalize(NormalizationForm.FormC);
    }

    private static string ReplaceLoneSurrogates(string text)
    {
        char[]? copy = null;
        for (int i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            (copy ??= text.ToCharArray())[i] = '\uFFFD';
        }
        return copy is null ? text : new string(copy);
    }
}
