"use client";

import { forwardRef, useState } from "react";
import { commitQuantity, liveQuantity } from "@/lib/cart";

/**
 * A cart line's quantity: a text field kept as a string while it has focus (so Backspace then 3
 * gives 3, and an empty field is allowed while typing), applied as soon as it holds a valid
 * quantity, and settled on blur or Enter (clamped to 1..max, or back to the last valid quantity).
 * − and + step it. It never removes the line: removing has its own button.
 */
export const QuantityControl = forwardRef<HTMLInputElement, {
  id: string;
  label: string;
  value: number;
  max: number;
  onChange: (quantity: number) => void;
}>(function QuantityControl({ id, label, value, max, onChange }, ref) {
  // The text being typed; null when the field shows the committed value.
  const [draft, setDraft] = useState<string | null>(null);
  const settle = (text: string) => {
    const q = commitQuantity(text, value, max);
    setDraft(null);
    if (q !== value) onChange(q);
  };
  const step = (delta: number) => {
    const q = Math.max(1, Math.min(max, value + delta));
    setDraft(null);
    if (q !== value) onChange(q);
  };
  return (
    <div className="qty" role="group" aria-label={label}>
      <button type="button" className="secondary qty-step" onClick={() => step(-1)} disabled={value <= 1} aria-label={`One fewer (${label})`}>
        −
      </button>
      <label className="sr-only" htmlFor={id}>
        {label}
      </label>
      <input
        ref={ref}
        id={id}
        type="text"
        inputMode="numeric"
        autoComplete="off"
        aria-describedby={`${id}-hint`}
        value={draft ?? String(value)}
        onFocus={() => setDraft(String(value))}
        onChange={(e) => {
          const text = e.target.value;
          setDraft(text);
          const q = liveQuantity(text, max);
          if (q !== null && q !== value) onChange(q);
        }}
        onBlur={(e) => settle(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            settle(e.currentTarget.value);
            setDraft(String(commitQuantity(e.currentTarget.value, value, max)));
          } else if (e.key === "ArrowUp" || e.key === "ArrowDown") {
            e.preventDefault();
            const q = Math.max(1, Math.min(max, value + (e.key === "ArrowUp" ? 1 : -1)));
            setDraft(String(q));
            if (q !== value) onChange(q);
          } else if (e.key === "Escape") {
            setDraft(String(value));
          }
        }}
      />
      <button type="button" className="secondary qty-step" onClick={() => step(1)} disabled={value >= max} aria-label={`One more (${label})`}>
        +
      </button>
      <span id={`${id}-hint`} className="sr-only">
        From 1 to {max}
      </span>
    </div>
  );
});
