export { parseStoredAnswer, type StoredAnswer, sharedCacheKey } from './stored-answer';
