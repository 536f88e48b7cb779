"use client";

import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from "react";

export interface ConfirmOptions {
  title: string;
  body?: ReactNode;
  /** The confirming button's text, e.g. "Refund $12.00". */
  confirmLabel: string;
  cancelLabel?: string;
  /** Styles the confirming button as destructive. */
  danger?: boolean;
}

/**
 * A modal confirmation on the native `<dialog>` (`showModal()`: the rest of the page is inert, Tab
 * stays inside, Escape cancels). Focus starts on the safe choice (Cancel) and goes back to the
 * element that opened it when it closes.
 */
export function ConfirmDialog({ title, body, confirmLabel, cancelLabel = "Cancel", danger, onClose }: ConfirmOptions & { onClose: (ok: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const closed = useRef(false);
  const id = useId();
  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  });

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    cancelRef.current?.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);

  const finish = (ok: boolean) => {
    if (closed.current) return;
    closed.current = true;
    onCloseRef.current(ok);
  };

  return (
    <dialog
      ref={ref}
      className="confirm-dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={body ? `${id}-body` : undefined}
      data-testid="confirm-dialog"
      onCancel={(e) => {
        e.preventDefault();
        finish(false);
      }}
      onClose={(e) => {
        // Closed by the browser some other way: a cancel. (Ignored when open again, e.g. after
        // React's development-mode effect re-run.)
        if (!e.currentTarget.open) finish(false);
      }}
    >
      <h2 id={`${id}-title`}>{title}</h2>
      {body ? (
        <div id={`${id}-body`} className="confirm-body">
          {body}
        </div>
      ) : null}
      <div className="form-actions">
        <button type="button" ref={cancelRef} className="secondary" onClick={() => finish(false)}>
          {cancelLabel}
        </button>
        <button type="button" className={danger ? "danger" : undefined} onClick={() => finish(true)}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/**
 * `const { confirm, dialog } = useConfirm()`: `await confirm({...})` opens the dialog and resolves
 * true when confirmed, false when cancelled (button, Escape). Render `dialog` somewhere in the page.
 */
export function useConfirm(): { confirm: (options: ConfirmOptions) => Promise<boolean>; dialog: ReactNode } {
  const [pending, setPending] = useState<{ options: ConfirmOptions; resolve: (ok: boolean) => void } | null>(null);
  const confirm = useCallback(
    (options: ConfirmOptions) =>
      new Promise<boolean>((resolve) => {
        setPending({ options, resolve });
      }),
    [],
  );
  const dialog = pending ? (
    <ConfirmDialog
      {...pending.options}
      onClose={(ok) => {
        pending.resolve(ok);
        setPending(null);
      }}
    />
  ) : null;
  return { confirm, dialog };
}
