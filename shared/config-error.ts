/** A configuration variable that cannot work. Raised at cold start, naming the variable to fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'InvalidConfiguration';
  readonly retryable = false;
  readonly variable: string;

  constructor(variable: string, problem: string) {
    super(`${variable} ${problem}`);
    this.variable = variable;
  }
}
