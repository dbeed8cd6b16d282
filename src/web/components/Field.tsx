import { useId, type ReactElement } from 'react';
import { cloneElement } from 'react';

/** A labelled form control with its hint and the server's messages for it. */
export function Field({ label, hint, errors, children }: { label: string; hint?: string; errors?: string[]; children: ReactElement<Record<string, unknown>> }) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const invalid = Boolean(errors?.length);
  const describedBy = [hint ? hintId : '', invalid ? errorId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${invalid ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-invalid': invalid || undefined, 'aria-describedby': describedBy })}
      {hint && (
        <small id={hintId} className="hint">
          {hint}
        </small>
      )}
      {invalid && (
        <div id={errorId} className="field-error" role="alert">
          {errors?.join(' ')}
        </div>
      )}
    </div>
  );
}
