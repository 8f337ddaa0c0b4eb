export { diffEntries, redact } from './commands/config';
export { CliError, EXIT, type Io } from './io';
export { createProgram, processIo, run, VERSION } from './program';
