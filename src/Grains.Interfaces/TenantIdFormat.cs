namespace Qwen.Grains.Interfaces;

/// <summary>
/// What a tenant id may look like: 1 to 64 characters from ASCII letters, digits and <c>- _ .</c>.
/// It is part of conversation keys, storage rows and logs, so it is kept as narrow as user ids.
/// </summary>
public static class TenantIdFormat
{
    public const int MaxLength = 64;

    /// <summary>Why <paramref name="tenant"/> is not a valid tenant id, or null when it is.</summary>
    public static string? Problem(string? tenant)
    {
        if (string.IsNullOrEmpty(tenant)) return "the tenant id is empty";
        if (tenant.Length > MaxLength) return $"the tenant id has {tenant.Length} characters; at most {MaxLength} are allowed";
        int bad = tenant.AsSpan().IndexOfAnyExcept(Allowed);
        return bad < 0 ? null
            : $"the tenant id contains '{tenant[bad]}' at position {bad}; only ASCII letters, digits and - _ . are allowed";
    }

    public static bool IsValid(string? tenant) => Problem(tenant) is null;

    private static readonly System.Buffers.SearchValues<char> Allowed =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
}
