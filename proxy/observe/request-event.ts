/** One record per request (DESIGN.md §5 stage 11). */
export interface RequestEvent {
  readonly at: number;
  readonly requestId: string;
  readonly listenerId: string;
  readonly routeId: string;
  readonly targetId: string;
  readonly agentId: string;
  readonly method: string;
  readonly host: string;
  /** Without the query: queries carry tokens often enough that we never store them. */
  readonly path: string;
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly errorKind: string;
  readonly clientIp: string;
}

/** Where the data plane hands events; it must never block or throw on the request path. */
export interface EventSink {
  record(e: RequestEvent): void;
}

export const NO_EVENTS: EventSink = { record: () => {} };
