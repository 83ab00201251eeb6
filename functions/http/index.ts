import { BUILD_VERSION } from '../../shared/build-version';
import { createHttpHandler } from './handler';

/** FC entry point (`handler: index.handler`). */
export const handler = createHttpHandler({ version: BUILD_VERSION });
