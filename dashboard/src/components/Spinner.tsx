/** A spinning ring; `label={null}` when the surrounding text already says what is loading. */
export function Spinner({ className = 'h-5 w-5', label = 'Loading' }: { className?: string; label?: string | null }) {
  return (
    <span
      role={label ? 'status' : undefined}
      aria-label={label ?? undefined}
      aria-hidden={label ? undefined : true}
      className={`inline-block shrink-0 animate-spin rounded-full border-2 border-line-strong border-t-teal-500 ${className}`}
    />
  )
}
