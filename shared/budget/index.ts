export {
  AccountBudget,
  type AccountBudgetOptions,
  BUCKET_MS,
  type BudgetBinding,
  type BudgetScope,
  bucketKey,
  CLOCK_SKEW_MS,
  fallbackQpsOf,
} from './account-budget';
export { DEFAULT_ACCOUNT_QPS, DEFAULT_POLL_QPS, parseAccountQps, parsePollShare } from './config';
