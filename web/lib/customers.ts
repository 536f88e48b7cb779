/** The customer page's pure logic: what a status or role change means, said before confirming. */
import type { Customer, CustomerStatus, Role } from "./api";

export interface ChangeText {
  title: string;
  body: string;
  confirmLabel: string;
  danger: boolean;
}

/** The confirmation text of changing `customer` with `patch` (one of status or role). */
export function describeCustomerChange(customer: Customer, patch: { status?: CustomerStatus; role?: Role }): ChangeText {
  if (patch.status === "disabled") {
    return {
      title: `Disable ${customer.email}?`,
      body: "They are signed out everywhere at once and cannot sign in until enabled again. Their orders stay.",
      confirmLabel: "Disable account",
      danger: true,
    };
  }
  if (patch.status === "active") {
    return {
      title: `Enable ${customer.email}?`,
      body: "They can sign in again.",
      confirmLabel: "Enable account",
      danger: false,
    };
  }
  if (patch.role === "ADMIN") {
    return {
      title: `Make ${customer.email} an admin?`,
      body: "They get the back office: every order, customer, refund and webhook. Their current sessions end; they sign in again.",
      confirmLabel: "Make admin",
      danger: true,
    };
  }
  return {
    title: `Make ${customer.email} a customer?`,
    body: "They lose the back office. Their current sessions end; they sign in again.",
    confirmLabel: "Make customer",
    danger: true,
  };
}

/** Why a change is refused before asking the server (the server says the same: `cannot_change_self`). */
export function changeBlocked(customer: Customer, signedInId: number | undefined): string | null {
  return customer.id === signedInId ? "You cannot change your own status or role." : null;
}
