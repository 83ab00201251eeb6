/** One goal the bench checks: its figure from this run, what is wanted, and whether it is met. */
export interface Target {
  readonly name: string;
  readonly figure: number;
  readonly target: string;
  readonly met: boolean;
}
