"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { openLiveFeed, type LiveFeed, type LiveHandlers, type LiveState, type Transport } from "./live";

/**
 * Keeps a live feed open while the component is mounted (and `enabled`). The handlers may change
 * between renders; the feed always calls the latest ones. `?sse=1` in the page URL forces the SSE
 * fallback (for trying it out).
 */
export function useLiveFeed(
  enabled: boolean,
  handlers: LiveHandlers,
): { state: LiveState; transport: Transport | null; resumeFrom: (id: number) => void } {
  const ref = useRef(handlers);
  const feedRef = useRef<LiveFeed | null>(null);
  const pendingResume = useRef<number | null>(null);
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
    feedRef.current = feed;
    if (pendingResume.current !== null) feed.resumeFrom(pendingResume.current);
    return () => {
      feedRef.current = null;
      feed.close();
    };
  }, [enabled]);

  const resumeFrom = useCallback((id: number) => {
    pendingResume.current = Math.max(pendingResume.current ?? id, id);
    feedRef.current?.resumeFrom(id);
  }, []);

  return { state, transport, resumeFrom };
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
