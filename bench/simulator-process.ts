/** Runs a CAMS simulator in its own process, so the client under measurement has a core to itself. */
import { readFileSync } from 'node:fs';
import { startCamsSimulator } from '../local/cams-simulator';

async function main(): Promise<void> {
  const flows = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8'));
  const rateLimit = process.argv[3] === 'off' ? false : Number(process.argv[3] ?? 5);
  const simulator = await startCamsSimulator({ flows, rateLimit });
  process.stdout.write(`${JSON.stringify({ endpoint: simulator.endpoint })}\n`);
  process.on('SIGTERM', () => {
    simulator.close().finally(() => process.exit(0));
  });
}

void main();
