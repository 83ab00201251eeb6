import packageJson from '../../package.json';
import { createHttpHandler } from './handler';

/** FC entry point (`handler: index.handler`). */
export const handler = createHttpHandler({ version: packageJson.version });
