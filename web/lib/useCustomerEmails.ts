"use client";

import { useEffect, useRef, useState } from "react";
import { api } from "./api";
import { missingIds } from "./customerLookup";

/**
 * The emails of the given user ids, looked up once each (`GET /api/admin/customers/{id}`, four at
 * a time) and kept for the page's life; absent or null while unknown or when the lookup failed.
 */
export function useCustomerEmails(ids: readonly number[]): ReadonlyMap<number, string | null> {
  const requested = useRef(new Map<number, string | null>());
  const [emails, setEmails] = useState<ReadonlyMap<number, string | null>>(() => new Map());
  const key = ids.join(",");
  useEffect(() => {
    const todo = missingIds(key ? key.split(",").map(Number) : [], requested.current);
    if (!todo.length) return;
    for (const id of todo) requested.current.set(id, null);
    const queue = [...todo];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const userId = id;
        try {
          const email = (await api.getCustomer(userId)).email;
          setEmails((m) => new Map(m).set(userId, email));
        } catch {
          /* shown as the user id */
        }
      }
    };
    void Promise.all([worker(), worker(), worker(), worker()]);
  }, [key]);
  return emails;
}
