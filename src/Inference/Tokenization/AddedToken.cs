namespace Qwen.Inference.Tokenization;

/// <summary>
/// A token matched in raw text before normalization and pre-tokenization (e.g. <c>&lt;|im_start|&gt;</c>).
/// Special ones can be left out when decoding, and can be treated as plain text when encoding.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special);
