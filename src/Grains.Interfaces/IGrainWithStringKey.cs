namespace Qwen.Grains.Interfaces;

/// <summary>A grain addressed by a string key (as in Orleans): one activation per key in the cluster.</summary>
public interface IGrainWithStringKey
{
}

/// <summary>A stateless worker: any silo's instance may serve any call.</summary>
public interface IStatelessWorker
{
}
