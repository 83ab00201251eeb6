export type RouteName =
  | 'healthz'
  | 'flow'
  | 'preview'
  | 'statusPage'
  | 'overview'
  | 'history'
  | 'deliveries'
  | 'redeliver';

export interface RouteMatch {
  readonly name: RouteName;
  /** The template, for logs: never the raw path. */
  readonly template: string;
  readonly params: Readonly<Record<string, string>>;
}

export const ROUTES: ReadonlyArray<{ name: RouteName; template: string; methods: readonly string[] }> = [
  { name: 'healthz', template: '/healthz', methods: ['GET', 'HEAD'] },
  { name: 'flow', template: '/flows/{flowId}', methods: ['GET', 'HEAD'] },
  { name: 'preview', template: '/flows/{flowId}/preview', methods: ['GET', 'HEAD'] },
  { name: 'statusPage', template: '/', methods: ['GET', 'HEAD'] },
  { name: 'overview', template: '/overview', methods: ['GET', 'HEAD'] },
  { name: 'history', template: '/flows/{flowId}/history', methods: ['GET', 'HEAD'] },
  { name: 'deliveries', template: '/deliveries', methods: ['GET', 'HEAD'] },
  { name: 'redeliver', template: '/events/{eventId}/redeliver', methods: ['POST'] },
];

function segmentsOf(path: string): string[] | undefined {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  try {
    return trimmed.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** Matches a path to a route template; the flowId is validated later, by the core. */
export function matchRoute(path: string): RouteMatch | undefined {
  const segments = segmentsOf(path);
  if (!segments) return undefined;
  for (const route of ROUTES) {
    const parts = route.template.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = parts.every((part, index) => {
      const segment = segments[index] ?? '';
      if (part.startsWith('{')) {
        params[part.slice(1, -1)] = segment;
        return true;
      }
      return part === segment;
    });
    if (matches) return { name: route.name, template: route.template, params };
  }
  return undefined;
}

export function allowedMethods(name: RouteName): readonly string[] {
  return ROUTES.find((route) => route.name === name)?.methods ?? [];
}
