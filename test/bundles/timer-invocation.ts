// One timer invocation of a built bundle in a Node process of its own, for what a process-wide
// setting decides and a test cannot change once Node runs (NODE_EXTRA_CA_CERTS is read only at
// startup). Reads `{ bundle, credentials, timeoutSeconds }` as JSON on stdin, writes what the
// handler returned as JSON on stdout; the function's log lines go to stderr.
import { buffer } from 'node:stream/consumers';
import { fcContext, fcTimerEvent, loadBundle } from '../../local/fc-emulator';
import type { Credentials } from '../../shared/cams/types';

interface Invocation {
  readonly bundle: string;
  readonly credentials: Credentials;
  readonly timeoutSeconds: number;
}

async function main(): Promise<void> {
  const invocation = JSON.parse((await buffer(process.stdin)).toString('utf8')) as Invocation;
  console.log = (line: unknown) => process.stderr.write(`${String(line)}\n`);
  const { handler } = loadBundle(invocation.bundle);
  const result = await handler(
    fcTimerEvent(),
    fcContext({ credentials: invocation.credentials, timeoutSeconds: invocation.timeoutSeconds }),
  );
  process.stdout.write(JSON.stringify(result));
}

void main();
