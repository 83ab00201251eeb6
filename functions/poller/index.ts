import packageJson from '../../package.json';
import { createPollerHandler } from './handler';

/** FC entry point (`handler: index.handler`), invoked by the timer trigger. */
export const handler = createPollerHandler({ version: packageJson.version });
