namespace Qwen.Inference; internal static class Placeholder { }
