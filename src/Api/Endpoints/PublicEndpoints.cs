namespace Qwen.Api.Endpoints;

/// <summary>The public endpoints under /v1/: task endpoints and the OpenAI-compatible ones.</summary>
public static class PublicEndpoints
{
    public static IEndpointRouteBuilder MapPublicEndpoints(this IEndpointRouteBuilder app)
    {
        SentimentEndpoints.Map(app);
        ConversationEndpoints.Map(app);
        ChatCompletionEndpoints.Map(app);
        return app;
    }
}
