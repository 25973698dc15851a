using Qwen.Cli;

// bench-serve runs the inference worker in this process: its timers must not wait for the pool to grow.
Qwen.Grains.ThreadPoolFloor.Ensure();
return await CliApp.RunAsync(args);
