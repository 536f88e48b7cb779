"use client";

/**
 * The signed-in user for the whole app. Loads `/api/auth/me` once (which also hands over the CSRF
 * token), and sends the person back to sign-in when any API call answers 401 (session expired or
 * revoked), remembering where they were.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useRouter } from "next/navigation";
import { api, type User } from "./api";

interface SessionValue {
  user: User | null;
  /** An API call answered 401 since the last sign-in: the session expired or was revoked. */
  expired: boolean;
  /** True until the first `/api/auth/me` answer. */
  loading: boolean;
  signIn: (email: string, password: string) => Promise<User>;
  signUp: (email: string, password: string) => Promise<User>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const router = useRouter();
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(true);
  const [expired, setExpired] = useState(false);

  useEffect(() => {
    let live = true;
    api
      .me()
      .then((answer) => live && setUser(answer?.user ?? null))
      .catch(() => live && setUser(null))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    api.onUnauthorized = () => {
      setExpired(true);
      setUser(null);
      if (!window.location.pathname.startsWith("/signin")) router.replace(signInUrl(true));
    };
    return () => {
      api.onUnauthorized = undefined;
    };
  }, [router]);

  const signIn = useCallback(async (email: string, password: string) => {
    const answer = await api.login(email, password);
    setExpired(false);
    setUser(answer.user);
    return answer.user;
  }, []);
  const signUp = useCallback(async (email: string, password: string) => {
    const answer = await api.register(email, password);
    setExpired(false);
    setUser(answer.user);
    return answer.user;
  }, []);
  const signOut = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setUser(null);
    }
  }, []);

  const value = useMemo(
    () => ({ user, expired, loading, signIn, signUp, signOut }),
    [user, expired, loading, signIn, signUp, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** The sign-in page's URL, coming back to the current page afterwards. */
function signInUrl(expired: boolean): string {
  const here = window.location.pathname + window.location.search;
  return `/signin?${expired ? "expired=1&" : ""}next=${encodeURIComponent(here)}`;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/**
 * For pages that need a signed-in user (and optionally a role): redirects to sign-in when nobody
 * is signed in. Returns the user once known, else null (render a loading state meanwhile).
 */
export function useRequireUser(role?: "ADMIN"): User | null {
  const { user, loading, expired } = useSession();
  const router = useRouter();
  useEffect(() => {
    if (loading || user) return;
    router.replace(signInUrl(expired));
  }, [loading, user, expired, router]);
  if (!user) return null;
  if (role && user.role !== role) return null;
  return user;
}
