/**
 * Imported for its effect by every file that declares schemas. Those use zod's tree-shakeable
 * build (`zod/mini`: ~25 KB minified in a bundle, against ~445 KB for the full build, which carries
 * every locale and method into each function and is loaded on every cold start). `zod/mini`
 * loads no messages, so this installs the English ones the full build uses by default: what a
 * user reads in a validation error stays word for word the same.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
