import { once } from 'node:events';
import type { Server } from 'node:http';

/** What a stand-in's clients did with their connections, for tests of connection reuse. */
export interface ConnectionWatch {
  /** TCP connections accepted since the server started. */
  readonly opened: number;
  /**
   * Closes every keep-alive connection not serving a request, as the server's own idle timeout
   * would (Node's is 5 s), and resolves once each is closed on this side: its FIN has been sent.
   */
  closeIdle(): Promise<void>;
}

export function watchConnections(server: Server): ConnectionWatch {
  const sockets = new Set<import('node:net').Socket>();
  let opened = 0;
  server.on('connection', (socket) => {
    opened += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    get opened() {
      return opened;
    },
    async closeIdle() {
      server.closeIdleConnections();
      const closing = [...sockets].filter((socket) => socket.destroyed);
      await Promise.all(closing.map((socket) => once(socket, 'close')));
    },
  };
}
