export interface DeliveryLaneOptions {
  readonly concurrency: number;
  /** Delivers what one flow owes; must not reject (the caller logs its own failures). */
  readonly deliver: (key: string) => Promise<void>;
  /** Once true, nothing new starts; what is still queued stays owed for the next run. */
  readonly shouldStop: () => boolean;
}

/**
 * Webhook deliveries of a run, beside its status checks: a check queues its flow and goes on to
 * the next one, so a slow or hanging receiver never holds a check worker, and deliveries owed
 * from earlier runs never hold back the first check. One flow's deliveries run one at a time (its
 * events go out in order); up to `concurrency` flows deliver at once. A flow queued again while
 * its delivery runs is delivered again afterwards, for what the check just added.
 */
export class DeliveryLane {
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  readonly #work = new Set<Promise<void>>();
  readonly #options: DeliveryLaneOptions;

  constructor(options: DeliveryLaneOptions) {
    this.#options = options;
  }

  add(key: string): void {
    this.#queued.add(key);
    this.#start();
  }

  /** Resolves once nothing runs and nothing more can start. */
  async idle(): Promise<void> {
    while (this.#work.size > 0) await Promise.all(this.#work);
  }

  #start(): void {
    for (const key of this.#queued) {
      if (this.#running.size >= this.#options.concurrency || this.#options.shouldStop()) return;
      if (this.#running.has(key)) continue;
      this.#queued.delete(key);
      this.#running.add(key);
      const work = this.#options.deliver(key).finally(() => {
        this.#running.delete(key);
        this.#work.delete(work);
        this.#start();
      });
      this.#work.add(work);
    }
  }
}
