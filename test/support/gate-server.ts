import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback server that holds every request until `release()`: handlers under test call it to
 * stay busy for exactly as long as a test needs, without sleeping.
 */
export async function startGateServer() {
  const held: ServerResponse[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let arrivals = 0;
  const server = createServer((_request, response) => {
    arrivals += 1;
    held.push(response);
    for (const waiter of waiters.filter((entry) => arrivals >= entry.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    /** Resolves once `count` requests have arrived in total. */
    arrived(count: number): Promise<void> {
      if (arrivals >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    release(): void {
      for (const response of held.splice(0)) response.end('open');
    },
    close(): Promise<void> {
      for (const response of held.splice(0)) response.end('open');
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
