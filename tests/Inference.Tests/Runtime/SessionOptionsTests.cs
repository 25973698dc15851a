using System.Text;
using FluentAssertions;
using Qwen.Inference.Runtime;
using Xunit;
using static Qwen.Inference.Tests.Runtime.OnnxModels;

namespace Qwen.Inference.Tests.Runtime;

public sealed class SessionOptionsTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Starts_at_ORTs_defaults()
    {
        using var options = new SessionOptions();
        options.IntraOpThreads.Should().Be(0);
        options.InterOpThreads.Should().Be(0);
        options.GraphOptimizationLevel.Should().Be(GraphOptimizationLevel.All);
        options.EnableCpuMemArena.Should().BeTrue();
        options.EnableMemoryPattern.Should().BeTrue();
        options.SequentialExecution.Should().BeTrue();
        options.OptimizedModelFilePath.Should().BeNull();
    }

    [Theory]
    [InlineData(GraphOptimizationLevel.Disabled)]
    [InlineData(GraphOptimizationLevel.Basic)]
    [InlineData(GraphOptimizationLevel.Extended)]
    [InlineData(GraphOptimizationLevel.Layout)]
    [InlineData(GraphOptimizationLevel.All)]
    public void Sessions_run_with_every_setting_changed(GraphOptimizationLevel level)
    {
        using var options = new SessionOptions
        {
            IntraOpThreads = 2,
            InterOpThreads = 1,
            GraphOptimizationLevel = level,
            EnableCpuMemArena = false,
            EnableMemoryPattern = false,
            SequentialExecution = false,
        };
        options.AddConfigEntry("session.intra_op.allow_spinning", "0");

        using var session = new InferenceSession(Add().Save(dir), options);
        using OrtValue a = OrtValue.CreateTensor(new float[] { 1, 2 }, [1, 2]);
        OrtValue[] outputs = session.Run(["A", "B"], [a, a], ["C"]);

        using OrtValue c = outputs[0];
        c.GetTensorSpan<float>().ToArray().Should().Equal(2, 4);
        options.GraphOptimizationLevel.Should().Be(level);
        options.EnableCpuMemArena.Should().BeFalse();
    }

    [Fact]
    public void Saves_the_optimized_model_where_asked()
    {
        string saved = dir.File("optimized.onnx");
        using var options = new SessionOptions { OptimizedModelFilePath = saved };

        using var session = new InferenceSession(Add().Save(dir), options);

        File.Exists(saved).Should().BeTrue();
        Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(saved)).Graph.Node.Should().ContainSingle();
    }

    [Fact]
    public void Config_entries_reach_ORT()
    {
        // ORT-format models are flatbuffers whose file identifier "ORTM" sits at byte 4.
        string saved = dir.File("optimized.ort");
        using var options = new SessionOptions { OptimizedModelFilePath = saved };
        options.AddConfigEntry("session.save_model_format", "ORT");

        using var session = new InferenceSession(Add().Save(dir), options);

        Encoding.ASCII.GetString(File.ReadAllBytes(saved), 4, 4).Should().Be("ORTM");
    }

    [Fact]
    public void Negative_thread_counts_are_rejected()
    {
        using var options = new SessionOptions();
        Action intra = () => options.IntraOpThreads = -1;
        Action inter = () => options.InterOpThreads = -1;
        intra.Should().Throw<ArgumentOutOfRangeException>();
        inter.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Dispose_twice_is_harmless_and_later_use_throws()
    {
        var options = new SessionOptions();
        options.Dispose();
        options.Dispose();

        Action set = () => options.IntraOpThreads = 1;
        Action create = () => new InferenceSession(Add().Save(dir), options).Dispose();
        set.Should().Throw<ObjectDisposedException>();
        create.Should().Throw<ObjectDisposedException>();
    }
}
