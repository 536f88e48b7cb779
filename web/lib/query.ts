"use client";

import { useEffect, useState } from "react";

/** One query-string parameter of the current URL, read after mount (no Suspense boundary needed). */
export function useQueryParam(name: string): string | null {
  const [value, setValue] = useState<string | null>(null);
  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the URL is only known in the browser
    setValue(new URLSearchParams(window.location.search).get(name));
  }, [name]);
  return value;
}

/** A same-origin path to go to after sign-in; anything else falls back to `fallback`. */
export function safeNext(next: string | null, fallback: string): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : fallback;
}
