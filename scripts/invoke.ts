// `npm run invoke -- <http|poller> [event JSON]`: smoke-checks a deployed function (see docs/deploy.md).
import { runInvokeCli } from './invoke/index';

runInvokeCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then((exitCode) => {
  process.exitCode = exitCode;
});
