namespace Qwen.Grains.Interfaces;

/// <summary>
/// What a conversation key (user id) may look like: 1 to 128 characters from ASCII letters,
/// digits and <c>- _ . @</c>. The id appears in URLs, logs and storage keys, so anything wider
/// invites escaping bugs.
/// </summary>
public static class UserIdFormat
{
    public const int MaxLength = 128;

    /// <summary>Why <paramref name="userId"/> is not a valid user id, or null when it is.</summary>
    public static string? Problem(string? userId)
    {
        if (string.IsNullOrEmpty(userId)) return "the user id is empty";
        if (userId.Length > MaxLength) return $"the user id has {userId.Length} characters; at most {MaxLength} are allowed";
        // They are path segments: inside a URL they would name the parent or the same resource.
        if (userId is "." or "..") return $"the user id '{userId}' is not allowed: it is a path segment";
        int bad = userId.AsSpan().IndexOfAnyExcept(Allowed);
        return bad < 0 ? null
            : $"the user id contains '{userId[bad]}' at position {bad}; only ASCII letters, digits and - _ . @ are allowed";
    }

    public static bool IsValid(string? userId) => Problem(userId) is null;

    private static readonly System.Buffers.SearchValues<char> Allowed =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@");
}
