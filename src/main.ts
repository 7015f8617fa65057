import { runCli } from './cli/index.js';

// Long-running commands (serve, run, demo) keep the process alive through their servers;
// one-shot commands end here with their exit code.
const code = await runCli(process.argv.slice(2));
if (code !== 0) process.exit(code);
