using System.Runtime.InteropServices;
using Xunit;
using FluentAssertions;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Runtime;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Runtime;

/// <summary>Flushing denormals: set per calling thread for a Run and put back after, same answers as gradual underflow.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class DenormalModeTests(TinyModels models)
{
    [Fact]
    public void Entering_flushes_denormals_on_this_thread_and_restoring_brings_them_back()
    {
        DenormalMode.IsSupported.Should().Be(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64);
        if (!DenormalMode.IsSupported) return;
        float tiny = Volatile(1e-40f); // a denormal
        DenormalMode.IsOn.Should().BeFalse(".NET threads start with gradual underflow");
        (tiny * Volatile(1f)).Should().Be(1e-40f);

        uint previous = DenormalMode.Enter();
        try
        {
            DenormalMode.IsOn.Should().BeTrue();
            (tiny * Volatile(1f)).Should().Be(0f, "a denormal input reads as zero");
            (Volatile(1e-30f) * Volatile(1e-10f)).Should().Be(0f, "a denormal result is flushed to zero");
        }
        finally
        {
            DenormalMode.Restore(previous);
        }
        DenormalMode.IsOn.Should().BeFalse();
        (tiny * Volatile(1f)).Should().Be(1e-40f);
    }

    [Fact]
    public void A_run_leaves_the_callers_mode_as_it_was_and_flushing_changes_no_greedy_token()
    {
        DenormalMode.IsSupported.Should().Be(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64);
        if (!DenormalMode.IsSupported) return;
        string path = models.PathOf("shared-buffer");
        using var flushing = DecoderSession.Open(path, new DecoderSessionOptions { FlushDenormals = true });
        using var gradual = DecoderSession.Open(path, new DecoderSessionOptions { FlushDenormals = false });
        DenormalMode.IsOn.Should().BeFalse("creating a session leaves the creating thread's mode alone");

        for (int i = 0; i < 6; i++)
        {
            var prompt = RandomIds(700 + i, 4 + 7 * i);
            var options = GenerationOptions.Greedy(12);
            var fast = new Generator(flushing).Generate(prompt, options);
            DenormalMode.IsOn.Should().BeFalse("a run puts the calling thread's mode back");
            new Generator(flushing).Generate(prompt, options).Tokens.Should().Equal(fast.Tokens, "flushing is deterministic");
            new Generator(gradual).Generate(prompt, options).Tokens.Should().Equal(fast.Tokens);
        }
    }

    private static float Volatile(float value) => System.Threading.Volatile.Read(ref value);
}
