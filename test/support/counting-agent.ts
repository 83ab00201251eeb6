import { Agent, type Dispatcher } from 'undici';

const ENDINGS = new Set(['onComplete', 'onError', 'onResponseEnd', 'onResponseError']);

/**
 * An undici Agent that knows how many requests are in flight, so a virtual clock can hold
 * time still while real loopback I/O happens (see VirtualClock's `isBusy`).
 */
export class CountingAgent extends Agent {
  inFlight = 0;

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.inFlight += 1;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.inFlight -= 1;
    };
    const wrapped = new Proxy(handler, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (typeof property === 'string' && ENDINGS.has(property)) {
          return (...args: unknown[]) => {
            finish();
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
    return super.dispatch(options, wrapped);
  }
}
