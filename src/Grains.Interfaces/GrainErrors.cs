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
    public GrainCallException(GrainErrorKind kind, string message, Exception? cause = null) : base(message)
    {
        Kind = kind;
        Cause = cause;
    }

    /// <summary>
    /// The internal error behind this one, on the silo that threw it only. Not the inner exception: an inner
    /// exception is serialized with the call's result, and the engine's and the stores' exception types have
    /// no codec, so the caller would get a serialization error instead of this exception.
    /// </summary>
    [field: NonSerialized]
    public Exception? Cause { get; }

    [Id(0)]
    public GrainErrorKind Kind { get; private set; }

    public bool IsRetryable => Kind is GrainErrorKind.Overloaded or GrainErrorKind.NotOwner or GrainErrorKind.Unavailable;
}
