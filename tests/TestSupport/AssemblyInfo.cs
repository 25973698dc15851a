namespace Qwen.TestSupport;
