namespace Qwen.Inference.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet: every byte is shown as one printable character so that BPE
/// tokens are strings. Printable Latin-1 bytes stand for themselves; the rest map to U+0100 on.
/// </summary>
internal static class ByteLevelAlphabet
{
    public static readonly char[] CharOfByte = BuildCharOfByte();

    /// <summary>The byte a character stands for, or -1 for characters outside the alphabet.</summary>
    public static int ByteOf(char c)
    {
        if (c < 0x100) return IsPrintable(c) ? c : -1;
        int index = c - 0x100;
        return index < NonPrintable.Length ? NonPrintable[index] : -1;
    }

    private static readonly byte[] NonPrintable = Enumerable.Range(0, 256).Where(b => !IsPrintable(b)).Select(b => (byte)b).ToArray();

    private static bool IsPrintable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    private static char[] BuildCharOfByte()
    {
        var map = new char[256];
        int next = 0x100;
        for (int b = 0; b < 256; b++) map[b] = IsPrintable(b) ? (char)b : (char)next++;
        return map;
    }
}
