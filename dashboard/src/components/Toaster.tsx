import { CircleCheck, CircleExclamationPoint, Info, X } from 'lucide-react'

import { dismissToast, useToasts, type ToastKind } from '../toast'

const styles: Record<ToastKind, string> = {
  error: 'border-rose-300 bg-rose-50 text-rose-900 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-100',
  success: 'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100',
  info: 'border-line bg-panel text-fg',
}
const icons = { error: CircleExclamationPoint, success: CircleCheck, info: Info }

export function Toaster() {
  const toasts = useToasts()
  return (
    // Always mounted so screen readers announce toasts added later; errors use the assertive region.
    <div className="pointer-events-none fixed inset-x-0 bottom-0 z-50 flex flex-col items-center gap-2 p-4 sm:items-end">
      <div aria-live="assertive" className="contents">
        {toasts.filter((t) => t.kind === 'error').map((t) => <ToastCard key={t.id} {...t} />)}
      </div>
      <div aria-live="polite" className="contents">
        {toasts.filter((t) => t.kind !== 'error').map((t) => <ToastCard key={t.id} {...t} />)}
      </div>
    </div>
  )
}

function ToastCard({ id, kind, message }: { id: number; kind: ToastKind; message: string }) {
  const Icon = icons[kind]
  return (
    <div
      role={kind === 'error' ? 'alert' : 'status'}
      className={`pointer-events-auto flex w-full max-w-sm items-start gap-2 rounded-lg border px-3 py-2 text-sm shadow-lg ${styles[kind]}`}
    >
      <Icon className="mt-0.5 h-4 w-4 shrink-0" aria-hidden />
      <p className="min-w-0 flex-1 break-words">{message}</p>
      <button type="button" onClick={() => dismissToast(id)} aria-label="Dismiss" className="rounded p-0.5 opacity-70 hover:opacity-100">
        <X className="h-3.5 w-3.5" aria-hidden />
      </button>
    </div>
  )
}
