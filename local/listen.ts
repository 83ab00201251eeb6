import type { AddressInfo, Server } from 'node:net';

/**
 * `server.listen` that settles both ways. A port already taken (EADDRINUSE) or not allowed
 * (EACCES) arrives as an 'error' event, not a thrown error; with no listener for it Node crashes
 * the process with a stack trace, and a promise that only resolves on 'listening' never settles.
 */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
