// `npm run smoke`: after `s deploy`, GET <trigger URL>/healthz and a dry run of the poller (docs/deploy.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildVersion } from './build-version.mjs';
import { DeployTimingError, deployTimingOf } from './smoke/deploy-timing';
import { runSmokeCli } from './smoke/run';

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

async function main(): Promise<number> {
  let timing: ReturnType<typeof deployTimingOf>;
  try {
    // s.vpc.yaml extends s.yaml without touching timeouts or triggers.
    timing = deployTimingOf(readFileSync(join(__dirname, '..', 's.yaml'), 'utf8'));
  } catch (error) {
    if (!(error instanceof DeployTimingError)) throw error;
    io.err(error.message);
    return 2;
  }
  const root = join(__dirname, '..');
  return runSmokeCli(process.env, io, { expectedVersion: buildVersion(root), timing });
}

main().then((exitCode) => {
  process.exitCode = exitCode;
});
