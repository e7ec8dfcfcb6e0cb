import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react'

const controlClass =
  'w-full rounded-md border bg-panel px-2.5 py-1.5 text-sm text-fg placeholder:text-faint focus:border-teal-500 focus:outline-none disabled:opacity-60'

interface FieldFrameProps {
  label: ReactNode
  hint?: ReactNode
  error?: string | null
  className?: string
}

function useFieldIds(error?: string | null, hint?: ReactNode) {
  const id = useId()
  const hintId = hint ? `${id}-hint` : undefined
  const errorId = error ? `${id}-error` : undefined
  return { id, hintId, errorId, describedBy: [errorId, hintId].filter(Boolean).join(' ') || undefined }
}

function Frame({
  id,
  label,
  hint,
  hintId,
  error,
  errorId,
  className = '',
  children,
}: FieldFrameProps & { id: string; hintId?: string; errorId?: string; children: ReactNode }) {
  return (
    <div className={`space-y-1 ${className}`}>
      <label htmlFor={id} className="block text-sm font-medium text-fg">
        {label}
      </label>
      {children}
      {error && (
        <p id={errorId} className="text-xs text-rose-700 dark:text-rose-300">
          {error}
        </p>
      )}
      {hint && (
        <p id={hintId} className="text-xs text-muted">
          {hint}
        </p>
      )}
    </div>
  )
}

type TextFieldProps = FieldFrameProps & Omit<InputHTMLAttributes<HTMLInputElement>, 'className'>

/** A labelled input; `error` is shown under it and announced with the field. */
export function TextField({ label, hint, error, className, ...input }: TextFieldProps) {
  const ids = useFieldIds(error, hint)
  return (
    <Frame {...ids} label={label} hint={hint} error={error} className={className}>
      <input
        id={ids.id}
        aria-invalid={error ? true : undefined}
        aria-describedby={ids.describedBy}
        className={`${controlClass} ${error ? 'border-rose-500' : 'border-line-strong'}`}
        {...input}
      />
    </Frame>
  )
}

type TextAreaProps = FieldFrameProps & Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'className'>

export function TextArea({ label, hint, error, className, ...textarea }: TextAreaProps) {
  const ids = useFieldIds(error, hint)
  return (
    <Frame {...ids} label={label} hint={hint} error={error} className={className}>
      <textarea
        id={ids.id}
        aria-invalid={error ? true : undefined}
        aria-describedby={ids.describedBy}
        className={`${controlClass} ${error ? 'border-rose-500' : 'border-line-strong'}`}
        {...textarea}
      />
    </Frame>
  )
}

type SelectFieldProps = FieldFrameProps & Omit<SelectHTMLAttributes<HTMLSelectElement>, 'className'>

export function SelectField({ label, hint, error, className, children, ...select }: SelectFieldProps) {
  const ids = useFieldIds(error, hint)
  return (
    <Frame {...ids} label={label} hint={hint} error={error} className={className}>
      <select
        id={ids.id}
        aria-invalid={error ? true : undefined}
        aria-describedby={ids.describedBy}
        className={`${controlClass} ${error ? 'border-rose-500' : 'border-line-strong'}`}
        {...select}
      >
        {children}
      </select>
    </Frame>
  )
}

/** The server's refusal of a whole form (its `detail`), shown above the submit button. */
export function FormError({ message }: { message: string | null | undefined }) {
  if (!message) return null
  return (
    <p role="alert" className="rounded-md border border-rose-300 bg-rose-50 px-3 py-2 text-sm text-rose-800 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-200">
      {message}
    </p>
  )
}
