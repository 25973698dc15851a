namespace Qwen.Grains.Interfaces;

/// <summary>Why a grain call failed, in terms a caller can act on.</summary>
[GenerateSerializer, Alias("qwen.GrainErrorKind")]
public enum GrainErrorKind
{
    /// <summary>The request itself is wrong (empty, too long, bad parameter): do not retry.</summary>
    InvalidRequest,

    /// <summary>The silo is full: retry elsewhere or later.</summary>
    Overloaded,

    /// <summary>The silo is not (or no longer) the owner of this grain: retry on the owner.</summary>
    NotOwner,

    /// <summary>The silo cannot serve now (starting, stopping, storage down): retry elsewhere.</summary>
    Unavailable,

    /// <summary>The call's deadline passed.</summary>
    Timeout,
}

/// <summary>
/// A failed grain call; the message says what was wrong. It crosses silo and client boundaries intact:
/// its kind and message, not its <see cref="Cause"/>.
/// </summary>
[GenerateSerializer, Alias("qwen.GrainCallException")]
public sealed class GrainCallException : Exception
{
    /// <param name="inner">Named in <see cref="Cause"/>, not kept: this exception crosses silo and client boundaries, and most
    /// inner types (engine, storage, ArgumentException) have no Orleans codec, which failed the whole call (a 500).</param>
    public GrainCallException(GrainErrorKind kind, string message, Exception? inner = null) : base(message)
    {
        Kind = kind;
        Cause = inner?.GetType().FullName;
    }

    [Id(0)]
    public GrainErrorKind Kind { get; private set; }

    /// <summary>The type of the exception that led to this one, if any.</summary>
    [Id(1)]
    public string? Cause { get; private set; }

    public bool IsRetryable => Kind is GrainErrorKind.Overloaded or GrainErrorKind.NotOwner or GrainErrorKind.Unavailable;
}
