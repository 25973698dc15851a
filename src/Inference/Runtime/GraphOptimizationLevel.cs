namespace Qwen.Inference.Runtime;

/// <summary>How much ORT rewrites the graph when a session is created (ORT's <c>GraphOptimizationLevel</c>).</summary>
public enum GraphOptimizationLevel
{
    Disabled = 0,
    Basic = 1,
    Extended = 2,
    Layout = 3,
    All = 99,
}
