// One FC instance, run as a worker thread by function-pool.ts. It `require`s the function's bundle
// as soon as it starts (the cold start, with this thread's own module cache and process.env), says
// so, then serves one invocation at a time; module state survives between them, as on a warm FC
// instance. Anything uncaught kills the thread, which the pool reports as the instance crashing.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

function failure(error) {
  return {
    errorType: error instanceof Error ? error.name : typeof error,
    errorMessage: error instanceof Error ? error.message : String(error),
  };
}

let handler;
try {
  handler = require(workerData.bundle)[workerData.exportName];
  if (typeof handler !== 'function') {
    throw new Error(`${workerData.bundle} does not export a function named ${workerData.exportName}`);
  }
  parentPort.postMessage({ kind: 'ready' });
} catch (error) {
  parentPort.postMessage({ kind: 'loadFailed', ...failure(error) });
}

parentPort.on('message', async (invocation) => {
  try {
    const event = Buffer.from(
      invocation.event.buffer,
      invocation.event.byteOffset,
      invocation.event.byteLength,
    );
    const value = await handler(event, invocation.context);
    // FC serialises what the handler returns; JSON drops what could not cross the wire either.
    parentPort.postMessage({
      kind: 'result',
      ok: true,
      value: value === undefined ? null : JSON.parse(JSON.stringify(value)),
    });
  } catch (error) {
    parentPort.postMessage({ kind: 'result', ok: false, ...failure(error) });
  }
});
