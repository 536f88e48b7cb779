import type { OrderStatus } from "@/lib/api";

export function StatusBadge({ status, testId }: { status: OrderStatus | string; testId?: string }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-testid={testId}>
      {status}
    </span>
  );
}
