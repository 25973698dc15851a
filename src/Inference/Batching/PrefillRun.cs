using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>
/// Prompts being prefilled as one left-padded batch, possibly over several chunks: all prompts
/// end in the last column, so every row completes at the same step.
/// </summary>
internal sealed class PrefillRun : IDisposable
{
    private bool _gridTaken;

    internal PrefillRun(BatchLayout layout, KvGrid grid)
    {
        Layout = layout;
        Grid = grid;
    }

    internal BatchLayout Layout { get; }

    /// <summary>The KV computed so far; complete once <see cref="IsComplete"/>.</summary>
    public KvGrid Grid { get; }

    public int Rows => Layout.BatchSize;

    /// <summary>Columns (prompt positions, padding included) already computed.</summary>
    public int Done { get; internal set; }

    public int Remaining => Layout.Length - Done;

    public bool IsComplete => Remaining == 0;

    /// <summary>Hands the grid over (it becomes the decode batch as it is); disposing the run then leaves it alone.</summary>
    public KvGrid TakeGrid()
    {
        _gridTaken = true;
        return Grid;
    }

    public void Dispose()
    {
        if (!_gridTaken) Grid.Dispose();
    }
}
