// `npm run smoke`: after `s deploy`, GET <trigger URL>/healthz and a dry run of the poller (docs/deploy.md).
import packageJson from '../package.json';
import { runSmokeCli } from './smoke/run';

runSmokeCli(
  process.env,
  {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  },
  { expectedVersion: packageJson.version },
).then((exitCode) => {
  process.exitCode = exitCode;
});
