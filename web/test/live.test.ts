import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openLiveFeed, parseEventMessage, wsUrl, type OrderEvent } from "../lib/live";

/** A scriptable stand-in for the browser WebSocket. */
class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(public url: string) {
    FakeWebSocket.instances.push(this);
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
  open() {
    this.onopen?.();
  }
  send(event: object) {
    this.onmessage?.({ data: JSON.stringify(event) });
  }
}

class FakeEventSource {
  static CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = 0;
  listeners = new Map<string, ((m: { data: string }) => void)[]>();
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  constructor(public url: string) {
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, fn: (m: { data: string }) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  emit(type: string, data: object) {
    for (const fn of this.listeners.get(type) ?? []) fn({ data: JSON.stringify(data) });
  }
}

const event = (id: number, to: string): OrderEvent => ({
  id,
  type: to === "FULFILLED" ? "order.status_changed" : "order.paid",
  order_id: "o1",
  user_id: 1,
  from_status: "PAID",
  to_status: to,
  payment_status: "captured",
  total_amount: 100,
  occurred_at: "2026-11-25T10:00:00Z",
});

beforeEach(() => {
  vi.useFakeTimers();
  FakeWebSocket.instances = [];
  FakeEventSource.instances = [];
  vi.stubGlobal("window", { location: { protocol: "http:", host: "127.0.0.1:3000" } });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

const options = {
  WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
  EventSourceImpl: FakeEventSource as unknown as typeof EventSource,
};

describe("live feed", () => {
  it("parses events and stream.reset, ignores junk", () => {
    expect(parseEventMessage('{"type":"stream.reset"}')).toEqual({ type: "stream.reset" });
    expect(parseEventMessage(JSON.stringify(event(3, "PAID")))).toMatchObject({ id: 3 });
    expect(parseEventMessage("nope")).toBeNull();
    expect(parseEventMessage('{"type":"order.paid"}')).toBeNull();
    expect(wsUrl("", 42, { protocol: "https:", host: "shop.example" })).toBe("wss://shop.example/api/ws?since=42");
  });

  it("resumes the WebSocket with since=<highest id seen> after a drop and refetches on reconnect", () => {
    const seen: number[] = [];
    const connected = vi.fn();
    const reset = vi.fn();
    const feed = openLiveFeed({ onEvent: (e) => seen.push(e.id), onConnected: connected, onReset: reset }, options);
    const first = FakeWebSocket.instances[0];
    expect(first.url).toBe("ws://127.0.0.1:3000/api/ws");
    first.open();
    first.send(event(10, "PAID"));
    first.send(event(9, "PAID")); // committed later with a lower id
    first.close(); // network drop
    vi.advanceTimersByTime(600);
    const second = FakeWebSocket.instances[1];
    expect(second.url).toBe("ws://127.0.0.1:3000/api/ws?since=10");
    second.open();
    expect(connected).toHaveBeenCalledTimes(2);
    second.send({ type: "stream.reset" });
    expect(reset).toHaveBeenCalledOnce();
    expect(seen).toEqual([10, 9]);
    feed.close();
    expect(second.closed).toBe(true);
  });

  it("falls back to SSE when the WebSocket cannot open, resuming with since", () => {
    const seen: string[] = [];
    const feed = openLiveFeed({ onEvent: (e) => seen.push(e.to_status) }, { ...options, connectTimeoutMs: 1000 });
    FakeWebSocket.instances[0].open();
    FakeWebSocket.instances[0].send(event(5, "PAID"));
    FakeWebSocket.instances[0].close();
    vi.advanceTimersByTime(600);
    FakeWebSocket.instances[1].close(); // upgrade refused
    vi.advanceTimersByTime(1100); // backoff, then a third try
    expect(FakeWebSocket.instances).toHaveLength(3);
    expect(FakeEventSource.instances).toHaveLength(0);
    vi.advanceTimersByTime(1000); // the third never opens: connect timeout, second failure in a row
    expect(feed.transport()).toBe("sse");
    const es = FakeEventSource.instances[0];
    expect(es.url).toBe("/api/events?since=5");
    es.onopen?.();
    es.emit("order.status_changed", event(6, "FULFILLED"));
    expect(seen).toEqual(["PAID", "FULFILLED"]);
    // The browser gave up on the stream: we reconnect with the newest id.
    es.readyState = FakeEventSource.CLOSED;
    es.onerror?.();
    vi.advanceTimersByTime(600);
    expect(FakeEventSource.instances[1].url).toBe("/api/events?since=6");
    feed.close();
  });

  it("resumes from an id the page learned elsewhere (order history) when no event came yet", () => {
    const feed = openLiveFeed({ onEvent: () => undefined }, options);
    FakeWebSocket.instances[0].open();
    feed.resumeFrom(41);
    feed.resumeFrom(7); // never goes back
    FakeWebSocket.instances[0].close();
    vi.advanceTimersByTime(600);
    expect(FakeWebSocket.instances[1].url).toBe("ws://127.0.0.1:3000/api/ws?since=41");
    feed.close();
  });
});
