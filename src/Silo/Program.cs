// The silo host is assembled in SiloHost; this entry point only runs it.
return await Qwen.Silo.SiloProgram.RunAsync(args);
