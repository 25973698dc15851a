namespace Qwen.Api.Endpoints;

/// <summary>Input limits and behaviour of the public API (section "Api").</summary>
public sealed record ApiLimits
{
    public const string Section = "Api";

    /// <summary>Largest request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>Longest sentiment text, in characters (longer texts are rejected; within it, token budgets truncate).</summary>
    public int MaxTextChars { get; init; } = 4000;

    /// <summary>Most texts in one batch sentiment request.</summary>
    public int MaxBatchTexts { get; init; } = 32;

    /// <summary>Longest chat message (and system message), in characters.</summary>
    public int MaxMessageChars { get; init; } = 4000;

    /// <summary>Most messages in one chat completion request.</summary>
    public int MaxChatMessages { get; init; } = 64;

    /// <summary>Most characters of all messages of one chat completion request together.</summary>
    public int MaxChatChars { get; init; } = 32_000;

    /// <summary>Largest max_tokens a request may ask for (the silos' own limit applies too).</summary>
    public int MaxTokensLimit { get; init; } = 512;

    /// <summary>Most bytes of all request headers together; more gets 431.</summary>
    public int MaxHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>Most request headers; more gets 431.</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>Longest path plus query string; longer gets 414.</summary>
    public int MaxUrlChars { get; init; } = 4096;

    /// <summary>A request still running after this long is ended (504 if nothing was sent yet); zero turns it off.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The model id of the OpenAI-compatible endpoints (GET /v1/models).</summary>
    public string ModelId { get; init; } = "qwen-aio";

    /// <summary>
    /// False: request log lines give text lengths instead of (shortened) inputs and outputs. Unset, it is false in
    /// clustered mode (user text is personal data; see ApiHostingExtensions) and true in the embedded default.
    /// </summary>
    public bool LogText { get; init; } = true;

    /// <summary>Characters of input and output shown in a request log line.</summary>
    public int LogTextChars { get; init; } = 40;
}
