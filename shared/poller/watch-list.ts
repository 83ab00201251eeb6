import {
  type CallOptions,
  type CamsClient,
  CamsError,
  type FlowPage,
  type FlowSummary,
  validateCustSpaceId,
  validateFlowId,
} from '../cams';
import { ConfigError } from '../config-error';
import { splitList } from '../list-variable';

export interface WatchedFlow {
  readonly flowId: string;
  readonly custSpaceId?: string | undefined;
}

function validated<T>(variable: string, index: number, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new ConfigError(variable, `entry ${index + 1}: ${(error as Error).message}`);
  }
}

/** `WATCH_FLOWS`: `flowId` or `custSpaceId:flowId` entries. */
export function parseWatchFlows(value: string | undefined): WatchedFlow[] {
  return splitList(value).map((entry, index) => {
    const parts = entry.split(':');
    if (parts.length > 2) {
      throw new ConfigError('WATCH_FLOWS', `entry ${index + 1} must be flowId or custSpaceId:flowId`);
    }
    const [first = '', second] = parts;
    return validated('WATCH_FLOWS', index, () =>
      second === undefined
        ? { flowId: validateFlowId(first) }
        : { custSpaceId: validateCustSpaceId(first), flowId: validateFlowId(second) },
    );
  });
}

/** `WATCH_CUST_SPACES`: cust space ids whose flows are discovered with ListFlow. */
export function parseWatchCustSpaces(value: string | undefined): string[] {
  return splitList(value).map((entry, index) =>
    validated('WATCH_CUST_SPACES', index, () => validateCustSpaceId(entry)),
  );
}

export const LIST_PAGE_SIZE = 50;
/** 10,000 flows: far beyond any real cust space, and a stop if CAMS ever pages forever. */
const MAX_PAGES = 200;

export interface Discovered {
  /** Flows with valid ids, each once. */
  readonly flows: FlowSummary[];
  /** False when the listing stopped before its last page: absence from `flows` means nothing. */
  readonly complete: boolean;
  /** Why an incomplete listing stopped. */
  readonly stoppedBecause?:
    | 'call budget spent'
    | 'a page repeated earlier flows'
    | 'too many pages'
    | 'a later page failed'
    | 'the run ended';
  /** The failure of the page that ended an incomplete listing (`a later page failed`, `the run ended`). */
  readonly error?: unknown;
  /** Ids ListFlow sent that no GetFlow could take (never put into state). */
  readonly invalidIds: number;
  /**
   * The page a later listing may go on from: set when this one stopped for want of calls or time,
   * not when CAMS failed or looked wrong (a failing, repeated page, too many pages), where the
   * next listing starts again at page 1.
   */
  readonly nextPage?: number | undefined;
}

export interface ListingOptions {
  /** Calls the listing may still spend, asked before each page (a run's discovery share). */
  readonly callsLeft?: (() => number) | undefined;
  /** Hears each page's usable flows as it arrives, so they can be watched before the listing ends. */
  readonly onPage?: ((flows: readonly FlowSummary[]) => void) | undefined;
  /** The page to start at: where an earlier, incomplete listing stopped (1 when absent or past the limit). */
  readonly firstPage?: number | undefined;
}

/**
 * Every flow of a cust space, page by page; each page is one call against the poller's budget,
 * read while `callsLeft` allows. A page that brings no id not sent before, usable or not
 * (CAMS repeating a page, or ignoring `Page`), ends the listing early instead of looping to the
 * page limit. A page that fails after the first ends the listing as incomplete with what the
 * pages before it found (a failing first page throws: there is nothing to keep). A listing may
 * start where an earlier one stopped (`firstPage`), so a space larger than one run's share is
 * still listed to its end over several runs.
 */
export async function listCustSpaceFlows(
  cams: CamsClient,
  custSpaceId: string,
  callOptions: CallOptions,
  { callsLeft = () => MAX_PAGES, onPage, firstPage = 1 }: ListingOptions = {},
): Promise<Discovered> {
  const found = new Map<string, FlowSummary>();
  const listed = new Set<string>();
  let invalidIds = 0;
  const startPage = Number.isInteger(firstPage) && firstPage >= 1 && firstPage <= MAX_PAGES ? firstPage : 1;
  /** The share is spent before `pageIndex` was read: the next listing goes on from it. */
  const budgetSpentAt = (pageIndex: number): Discovered => ({
    flows: [...found.values()],
    complete: false,
    stoppedBecause: 'call budget spent',
    invalidIds,
    nextPage: pageIndex,
  });
  for (let pageIndex = startPage; ; pageIndex += 1) {
    if (pageIndex > MAX_PAGES)
      return { flows: [...found.values()], complete: false, stoppedBecause: 'too many pages', invalidIds };
    if (callsLeft() <= 0) return budgetSpentAt(pageIndex);
    let page: FlowPage;
    try {
      // Retries count against the share too: a throttled page takes no more attempts than it leaves.
      page = await cams.listFlows(
        { custSpaceId, pageIndex, pageSize: LIST_PAGE_SIZE },
        { ...callOptions, maxAttempts: callsLeft() },
      );
    } catch (error) {
      // A page whose retries the share cut short (it was throttled with no call left for another
      // try) did not fail: the listing goes on from it next time, as when the share ends between pages.
      if (error instanceof CamsError && error.retryable && callsLeft() <= 0) return budgetSpentAt(pageIndex);
      if (pageIndex === startPage) throw error;
      const isRunOver = error instanceof CamsError && error.code === 'DeadlineExceeded';
      return {
        flows: [...found.values()],
        complete: false,
        stoppedBecause: isRunOver ? 'the run ended' : 'a later page failed',
        error,
        invalidIds,
        ...(isRunOver ? { nextPage: pageIndex } : {}),
      };
    }
    let isNew = false;
    const usable: FlowSummary[] = [];
    for (const flow of page.flows) {
      // Judged on every id sent, usable or not: a page of ids no GetFlow takes is no repeat.
      if (!listed.has(flow.flowId)) isNew = true;
      listed.add(flow.flowId);
      if (!isValidFlowId(flow.flowId)) {
        invalidIds += 1;
        continue;
      }
      found.set(flow.flowId, flow);
      usable.push(flow);
    }
    onPage?.(usable);
    if (page.flows.length < LIST_PAGE_SIZE) return { flows: [...found.values()], complete: true, invalidIds };
    if (!isNew) {
      return {
        flows: [...found.values()],
        complete: false,
        stoppedBecause: 'a page repeated earlier flows',
        invalidIds,
      };
    }
  }
}

/** True when GetFlow could take `flowId` (ids read from CAMS or the store are checked with it). */
export function isValidFlowId(flowId: string): boolean {
  try {
    validateFlowId(flowId);
    return true;
  } catch {
    return false;
  }
}
