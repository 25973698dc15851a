using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Qwen.Api.Security;

/// <summary>Tells readers of /openapi/v1.json how to send the key (only when the Api checks keys).</summary>
internal static class OpenApiKeySchemes
{
    public static void Describe(OpenApiOptions options) => options.AddDocumentTransformer((document, _, _) =>
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The API key as a bearer token, as OpenAI clients send it",
        };
        document.Components.SecuritySchemes["api_key"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = PresentedKey.Header,
            Description = "The API key in its own header",
        };
        // Either one: two requirements, each with one scheme.
        document.Security ??= [];
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] });
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("api_key", document)] = [] });
        return Task.CompletedTask;
    });
}
