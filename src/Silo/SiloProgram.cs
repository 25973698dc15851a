namespace Qwen.Silo;

public static class SiloProgram
{
    public static Task<int> RunAsync(string[] args) => Task.FromResult(0);
}
