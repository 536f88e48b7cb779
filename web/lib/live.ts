/**
 * Live order events: a WebSocket on `/api/ws`, falling back to Server-Sent Events on `/api/events`
 * when the WebSocket cannot connect (a dev proxy that does not pass upgrades, a corporate proxy).
 *
 * Resuming without a gap: the id of the last event seen is kept, and every reconnect (WebSocket or
 * SSE) asks for `?since=<id>` (the browser's own SSE reconnects send `Last-Event-ID`, which the
 * server prefers), so the server replays what happened while the connection was down. On top of
 * that, `onConnected` fires after every (re)connect and `onReset` on `{"type": "stream.reset"}`
 * (the `since` was older than the server's retention): the pages refetch their data then, so a
 * status is never missed even when events were pruned.
 */

export type OrderEventType =
  | "order.created"
  | "order.paid"
  | "order.status_changed"
  | "order.cancelled"
  | "order.shipped"
  | "order.refunded";
/** Every type the SSE stream names (`event:`); the WebSocket carries the type in the JSON. */
export const ORDER_EVENT_TYPES: readonly OrderEventType[] = [
  "order.created",
  "order.paid",
  "order.status_changed",
  "order.cancelled",
  "order.shipped",
  "order.refunded",
];

export interface OrderEvent {
  id: number;
  type: OrderEventType;
  order_id: string;
  user_id: number;
  from_status: string | null;
  to_status: string;
  payment_status: string;
  total_amount: number;
  occurred_at: string;
  /** API v3. */
  fulfillment_status?: string;
  refunded_amount?: number;
  /** `order.shipped` (and a shipment that completes the order). */
  shipment_id?: string;
  /** `order.refunded`: the refund and its own amount. */
  refund_id?: string;
  amount?: number;
}

export type Transport = "websocket" | "sse";
export type LiveState = "connecting" | "live" | "reconnecting" | "closed";

export interface LiveHandlers {
  onEvent: (event: OrderEvent) => void;
  /** After every (re)connect: refetch what the page shows. */
  onConnected?: (transport: Transport) => void;
  /** The server could not replay from our `since`: refetch everything. */
  onReset?: () => void;
  onState?: (state: LiveState, transport: Transport) => void;
}

export interface LiveOptions {
  /** Same-origin base of the API ("" in the app). */
  baseUrl?: string;
  /** Start with SSE (tests; or a deployment known to block WebSockets). */
  forceSse?: boolean;
  /** A WebSocket that has not opened after this long counts as failed (ms). */
  connectTimeoutMs?: number;
  WebSocketImpl?: typeof WebSocket;
  EventSourceImpl?: typeof EventSource;
}

/** Parses one message; null for anything that is not an event object we know. */
export function parseEventMessage(text: string): OrderEvent | { type: "stream.reset" } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!value || typeof value !== "object") return null;
  const obj = value as Record<string, unknown>;
  if (obj.type === "stream.reset") return { type: "stream.reset" };
  if (typeof obj.type === "string" && typeof obj.id === "number" && typeof obj.order_id === "string") {
    return obj as unknown as OrderEvent;
  }
  return null;
}

/** Builds the WebSocket URL of the page's own origin. */
export function wsUrl(baseUrl: string, since: number | null, location: { protocol: string; host: string }): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = `${baseUrl}/api/ws${since !== null ? `?since=${since}` : ""}`;
  return /^https?:/.test(baseUrl) ? path.replace(/^http/, "ws") : `${scheme}//${location.host}${path}`;
}

/**
 * Opens the live feed and keeps it open until `close()`. The WebSocket is tried first; after it
 * fails to open twice in a row the feed switches to SSE for good. Reconnects back off from 0.5 s to
 * 10 s.
 */
export interface LiveFeed {
  close: () => void;
  transport: () => Transport;
  /**
   * Records that the page already reflects event `id` (e.g. the newest entry of an order's
   * history, whose ids are event ids), so a reconnect resumes after it even if no event came over
   * this feed yet.
   */
  resumeFrom: (id: number) => void;
}

export function openLiveFeed(handlers: LiveHandlers, options: LiveOptions = {}): LiveFeed {
  const baseUrl = options.baseUrl ?? "";
  const WS = options.WebSocketImpl ?? (typeof WebSocket !== "undefined" ? WebSocket : undefined);
  const ES = options.EventSourceImpl ?? (typeof EventSource !== "undefined" ? EventSource : undefined);
  const connectTimeout = options.connectTimeoutMs ?? 4000;
  let transport: Transport = options.forceSse || !WS ? "sse" : "websocket";
  let lastId: number | null = null;
  let closed = false;
  let failedOpens = 0;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let socket: WebSocket | null = null;
  let source: EventSource | null = null;

  const setState = (state: LiveState) => handlers.onState?.(state, transport);

  const deliver = (text: string) => {
    const message = parseEventMessage(text);
    if (!message) return;
    if (message.type === "stream.reset") {
      handlers.onReset?.();
      return;
    }
    const event = message as OrderEvent;
    // Ids are not strictly increasing in delivery order (see the contract); keep the highest seen.
    lastId = lastId === null ? event.id : Math.max(lastId, event.id);
    handlers.onEvent(event);
  };

  const scheduleReconnect = () => {
    if (closed) return;
    setState("reconnecting");
    const delay = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));
    attempt += 1;
    timer = setTimeout(connect, delay);
  };

  const connectWebSocket = () => {
    if (!WS) return;
    let opened = false;
    const ws = new WS(wsUrl(baseUrl, lastId, window.location));
    socket = ws;
    const openTimer = setTimeout(() => {
      if (!opened) ws.close();
    }, connectTimeout);
    ws.onopen = () => {
      opened = true;
      clearTimeout(openTimer);
      failedOpens = 0;
      attempt = 0;
      setState("live");
      handlers.onConnected?.("websocket");
    };
    ws.onmessage = (message) => {
      if (typeof message.data === "string") deliver(message.data);
    };
    ws.onclose = () => {
      clearTimeout(openTimer);
      if (socket === ws) socket = null;
      if (closed) return;
      if (!opened) {
        failedOpens += 1;
        if (failedOpens >= 2 && ES) transport = "sse";
        // First fallback is immediate: no point waiting when the upgrade is simply not proxied.
        if (transport === "sse") {
          connect();
          return;
        }
      }
      scheduleReconnect();
    };
  };

  const connectSse = () => {
    if (!ES) return;
    const url = `${baseUrl}/api/events${lastId !== null ? `?since=${lastId}` : ""}`;
    const es = new ES(url, { withCredentials: true });
    source = es;
    const onData = (message: MessageEvent) => {
      if (typeof message.data === "string") deliver(message.data);
    };
    for (const type of ORDER_EVENT_TYPES) es.addEventListener(type, onData);
    es.addEventListener("stream.reset", onData);
    es.onmessage = onData;
    es.onopen = () => {
      attempt = 0;
      setState("live");
      handlers.onConnected?.("sse");
    };
    es.onerror = () => {
      if (closed) return;
      if (es.readyState === ES.CLOSED) {
        // The browser gave up (e.g. a 401 or a non-stream answer): reconnect ourselves with `since`.
        if (source === es) source = null;
        scheduleReconnect();
      } else {
        // The browser reconnects by itself and sends Last-Event-ID.
        setState("reconnecting");
      }
    };
  };

  function connect() {
    timer = null;
    if (closed) return;
    setState("connecting");
    if (transport === "websocket") connectWebSocket();
    else connectSse();
  }

  connect();

  return {
    transport: () => transport,
    resumeFrom: (id: number) => {
      if (Number.isSafeInteger(id) && id >= 0) lastId = lastId === null ? id : Math.max(lastId, id);
    },
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      socket?.close();
      source?.close();
      setState("closed");
    },
  };
}
