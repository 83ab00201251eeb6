export { InvokeApiError, InvokeUsageError } from './errors';
export { dryRunTimerEvent, httpHealthEvent, timerEvent } from './events';
export type { FunctionTarget, InvokeOptions } from './options';
export { DEFAULT_FUNCTION_NAMES, invokeOptionsFrom } from './options';
export type { InvokeResult } from './run';
export { invoke } from './run';

import { InvokeApiError, InvokeUsageError } from './errors';
import { invokeOptionsFrom } from './options';
import { invoke } from './run';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The whole CLI as a function: returns the exit code (0 ok, 1 function/API failure, 2 usage). */
export async function runInvokeCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  let options: ReturnType<typeof invokeOptionsFrom>;
  try {
    options = invokeOptionsFrom(args, env);
  } catch (error) {
    if (error instanceof InvokeUsageError) {
      io.err(error.message);
      return 2;
    }
    throw error;
  }
  try {
    const result = await invoke(options);
    io.out(`${result.functionName} → HTTP ${result.statusCode}, request id ${result.requestId ?? '(none)'}`);
    io.out(result.body);
    if (result.logTail) io.out(`--- log tail ---\n${result.logTail}`);
    if (result.errorType) {
      io.err(`function error: ${result.errorType}`);
      return 1;
    }
    return 0;
  } catch (error) {
    if (error instanceof InvokeApiError) {
      io.err(error.message);
      return 1;
    }
    io.err(
      `InvokeFunction ${options.functionName} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
}
