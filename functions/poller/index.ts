import { BUILD_VERSION } from '../../shared/build-version';
import { createPollerHandler } from './handler';

/** FC entry point (`handler: index.handler`), invoked by the timer trigger. */
export const handler = createPollerHandler({ version: BUILD_VERSION });
