// One FC instance, run as a worker thread by function-pool.ts. It `require`s the function's bundle
// as soon as it starts (the cold start, with this thread's own module cache and process.env), says
// so, then serves one invocation at a time; module state survives between them, as on a warm FC
// instance. Anything uncaught kills the thread, which the pool reports as the instance crashing.
//
// Between invocations the instance is frozen, as FC freezes one once it has answered ("When a
// function returns a response and no request is being executed, Function Compute freezes the
// function instance and suspends code execution", FC FAQ "Why does my asynchronous code fail to
// run"): the thread blocks in Atomics.wait until the pool thaws it for the next invocation, so a
// timer, a fetch or a store write left running after the answer does nothing until then — and
// nothing at all if the instance is reclaimed first.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

/** 0 while frozen; the pool stores 1 and notifies once it has posted the next invocation. */
const thawSignal = new Int32Array(workerData.thawSignal);

function freezeUntilNextInvocation() {
  Atomics.wait(thawSignal, 0, 0);
  Atomics.store(thawSignal, 0, 0);
}

function failure(error) {
  return {
    errorType: error instanceof Error ? error.name : typeof error,
    errorMessage: error instanceof Error ? error.message : String(error),
  };
}

// A worker's stdout/stderr reach the pool through messages acknowledged by its event loop; lines
// written before the answer must leave before the thread freezes, as they would on FC.
async function flushOutput() {
  await Promise.all(
    [process.stdout, process.stderr]
      .filter((stream) => stream.writableLength > 0)
      .map((stream) => new Promise((resolve) => stream.write('', resolve))),
  );
}

let handler;
try {
  handler = require(workerData.bundle)[workerData.exportName];
  if (typeof handler !== 'function') {
    throw new Error(`${workerData.bundle} does not export a function named ${workerData.exportName}`);
  }
  parentPort.postMessage({ kind: 'ready' });
  freezeUntilNextInvocation();
} catch (error) {
  parentPort.postMessage({ kind: 'loadFailed', ...failure(error) });
}

parentPort.on('message', async (invocation) => {
  let reply;
  try {
    const event = Buffer.from(
      invocation.event.buffer,
      invocation.event.byteOffset,
      invocation.event.byteLength,
    );
    const value = await handler(event, invocation.context);
    // FC serialises what the handler returns; JSON drops what could not cross the wire either.
    reply = {
      kind: 'result',
      ok: true,
      value: value === undefined ? null : JSON.parse(JSON.stringify(value)),
    };
  } catch (error) {
    reply = { kind: 'result', ok: false, ...failure(error) };
  }
  await flushOutput();
  parentPort.postMessage(reply);
  freezeUntilNextInvocation();
});
