"use client";

import type { LiveState, Transport } from "@/lib/live";
import { LiveLabel } from "@/lib/useLive";

export function LiveIndicator({ state, transport }: { state: LiveState; transport: Transport | null }) {
  return (
    <p className="live" role="status" aria-live="polite" data-testid="live-state" data-state={state} data-transport={transport ?? ""}>
      <span className={`live-dot${state === "live" ? " on" : ""}`} aria-hidden="true" />
      {LiveLabel({ state, transport })}
    </p>
  );
}
