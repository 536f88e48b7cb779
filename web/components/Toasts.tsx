"use client";

import Link from "next/link";
import { useCallback, useRef, useState } from "react";

export interface Toast {
  id: number;
  text: string;
  href?: string;
}

/** A small stack of notices that disappear after 6 s; announced politely to screen readers. */
export function useToasts(): { toasts: Toast[]; push: (text: string, href?: string) => void } {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const push = useCallback((text: string, href?: string) => {
    const id = next.current++;
    setToasts((t) => [...t.slice(-4), { id, text, href }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 6000);
  }, []);
  return { toasts, push };
}

export function Toasts({ toasts }: { toasts: Toast[] }) {
  return (
    <div className="toasts" role="status" aria-live="polite" data-testid="toasts">
      {toasts.map((t) => (
        <div key={t.id} className="toast">
          {t.href ? <Link href={t.href}>{t.text}</Link> : t.text}
        </div>
      ))}
    </div>
  );
}
