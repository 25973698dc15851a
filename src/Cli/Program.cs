using Qwen.Cli;

return await CliApp.RunAsync(args);
