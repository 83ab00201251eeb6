export {
  AccountBudget,
  type AccountBudgetOptions,
  BUCKET_MS,
  type BudgetBinding,
  type BudgetScope,
  bucketKey,
  CLOCK_SKEW_MS,
} from './account-budget';
export { DEFAULT_ACCOUNT_QPS, parseAccountQps } from './config';
