// The deploy workflow's "Check deploy configuration" step: the deploy variables (scripts/deploy-check/),
// then the template `s deploy` takes, as S_TEMPLATE in $GITHUB_ENV. Exit 1 naming each problem.
import { appendFileSync } from 'node:fs';
import { deployConfigProblems, templateFor } from './deploy-check/problems';

const problems = deployConfigProblems(process.env);
if (problems.length > 0) {
  // Workflow commands are read from stdout: each problem becomes an error annotation.
  for (const problem of problems) process.stdout.write(`::error::${problem}\n`);
  process.exitCode = 1;
} else {
  const template = templateFor(process.env);
  if (process.env.GITHUB_ENV) appendFileSync(process.env.GITHUB_ENV, `S_TEMPLATE=${template}\n`);
  process.stdout.write(`deploy configuration ok: s deploy -t ${template}\n`);
}
