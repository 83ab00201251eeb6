import type { CallOptions, CamsClient, FlowSummary } from '../cams';
import { validateCustSpaceId, validateFlowId } from '../cams';
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

/** Every flow of a cust space, page by page; each page is one call against the poller's budget. */
export async function listCustSpaceFlows(
  cams: CamsClient,
  custSpaceId: string,
  callOptions: CallOptions,
): Promise<FlowSummary[]> {
  const found: FlowSummary[] = [];
  for (let pageIndex = 1; pageIndex <= MAX_PAGES; pageIndex += 1) {
    const page = await cams.listFlows({ custSpaceId, pageIndex, pageSize: LIST_PAGE_SIZE }, callOptions);
    found.push(...page.flows);
    if (page.flows.length < LIST_PAGE_SIZE) break;
  }
  return found;
}
