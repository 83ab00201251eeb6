// One FC instance, run as a worker thread by function-pool.ts. It `require`s the function's bundle
// on its first invocation (the cold start, with this thread's own module cache and process.env)
// and serves one invocation at a time; module state survives between them, as on a warm FC
// instance. Anything uncaught kills the thread, which the pool reports as the instance crashing.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

let handler;

function loadHandler() {
  if (handler) return handler;
  const exported = require(workerData.bundle)[workerData.exportName];
  if (typeof exported !== 'function') {
    throw new Error(`${workerData.bundle} does not export a function named ${workerData.exportName}`);
  }
  handler = exported;
  return handler;
}

parentPort.on('message', async (invocation) => {
  try {
    const event = Buffer.from(
      invocation.event.buffer,
      invocation.event.byteOffset,
      invocation.event.byteLength,
    );
    const value = await loadHandler()(event, invocation.context);
    // FC serialises what the handler returns; JSON drops what could not cross the wire either.
    parentPort.postMessage({
      ok: true,
      value: value === undefined ? null : JSON.parse(JSON.stringify(value)),
    });
  } catch (error) {
    parentPort.postMessage({
      ok: false,
      errorType: error instanceof Error ? error.name : typeof error,
      errorMessage: error instanceof Error ? error.message : String(error),
    });
  }
});
