"use client";

import { useEffect, useRef, useState } from "react";
import { openLiveFeed, type LiveHandlers, type LiveState, type Transport } from "./live";

/**
 * Keeps a live feed open while the component is mounted (and `enabled`). The handlers may change
 * between renders; the feed always calls the latest ones. `?sse=1` in the page URL forces the SSE
 * fallback (for trying it out).
 */
export function useLiveFeed(enabled: boolean, handlers: LiveHandlers): { state: LiveState; transport: Transport | null } {
  const ref = useRef(handlers);
  const [state, setState] = useState<LiveState>("connecting");
  const [transport, setTransport] = useState<Transport | null>(null);

  useEffect(() => {
    ref.current = handlers;
  });

  useEffect(() => {
    if (!enabled) return;
    const forceSse = new URLSearchParams(window.location.search).get("sse") === "1";
    const feed = openLiveFeed(
      {
        onEvent: (e) => ref.current.onEvent(e),
        onConnected: (t) => ref.current.onConnected?.(t),
        onReset: () => ref.current.onReset?.(),
        onState: (s, t) => {
          setState(s);
          setTransport(t);
          ref.current.onState?.(s, t);
        },
      },
      { forceSse },
    );
    return () => feed.close();
  }, [enabled]);

  return { state, transport };
}

export function LiveLabel({ state, transport }: { state: LiveState; transport: Transport | null }): string {
  const via = transport === "sse" ? "Server-Sent Events" : "WebSocket";
  switch (state) {
    case "live":
      return `Live (${via})`;
    case "connecting":
      return "Connecting…";
    case "reconnecting":
      return "Reconnecting…";
    default:
      return "Offline";
  }
}
