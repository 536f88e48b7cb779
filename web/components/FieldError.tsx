/** A field's own problem, shown under it; give the field `aria-describedby={id}` and `aria-invalid`. */
export function FieldError({ id, message }: { id: string; message: string | undefined | null }) {
  if (!message) return null;
  return (
    <p id={id} className="field-error" data-testid="field-error">
      {message}
    </p>
  );
}

/** The props that tie a field to its {@link FieldError}. */
export function invalidProps(id: string, message: string | undefined | null, describedBy?: string) {
  const ids = [describedBy, message ? id : undefined].filter(Boolean).join(" ");
  return { "aria-invalid": message ? (true as const) : undefined, "aria-describedby": ids || undefined };
}
