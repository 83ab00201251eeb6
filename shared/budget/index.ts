export {
  AccountBudget,
  type AccountBudgetOptions,
  BUCKET_MS,
  type BudgetBinding,
  type BudgetScope,
  bucketKey,
  CLOCK_SKEW_MS,
  DECISION_MS,
  fallbackQpsOf,
  formatQps,
  lateKey,
  MAX_COUNT_WAIT_MS,
} from './account-budget';
export { type AccountShares, parseAccountShares } from './config';
