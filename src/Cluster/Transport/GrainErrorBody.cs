using System.Net;
using Qwen.Grains.Interfaces;

namespace Qwen.Cluster.Transport;

/// <summary>How a failed grain call crosses HTTP: its kind, its message, and a status code per kind.</summary>
public sealed record GrainErrorBody(GrainErrorKind Kind, string Message)
{
    public static HttpStatusCode StatusOf(GrainErrorKind kind) => kind switch
    {
        GrainErrorKind.InvalidRequest => HttpStatusCode.BadRequest,
        GrainErrorKind.Overloaded => HttpStatusCode.TooManyRequests,
        GrainErrorKind.NotOwner => HttpStatusCode.MisdirectedRequest,
        GrainErrorKind.Unavailable => HttpStatusCode.ServiceUnavailable,
        GrainErrorKind.Timeout => HttpStatusCode.GatewayTimeout,
        _ => HttpStatusCode.InternalServerError,
    };
}
