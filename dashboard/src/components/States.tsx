import { RefreshCw } from 'lucide-react'
import type { ReactNode } from 'react'

import { ApiError, errorMessage } from '../api/client'
import { Button } from './Button'
import { Spinner } from './Spinner'

/** A block-level "loading …" placeholder for a page section. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="flex items-center gap-3 py-10 text-sm text-muted" role="status">
      <Spinner label={null} />
      <span>{label}</span>
    </div>
  )
}

/** A failed load: the server's sentence, which service it was, and a retry. */
export function ErrorNotice({
  error,
  title = 'Could not load this',
  onRetry,
}: {
  error: unknown
  title?: string
  onRetry?: () => void
}) {
  const status = error instanceof ApiError ? error.status : undefined
  return (
    <div
      role="alert"
      className="flex flex-wrap items-start justify-between gap-3 rounded-lg border border-rose-300 bg-rose-50 px-4 py-3 text-rose-900 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-100"
    >
      <div className="min-w-0">
        <p className="font-semibold">{title}</p>
        <p className="text-sm break-words">
          {status !== undefined && <span className="font-mono">{status} </span>}
          {errorMessage(error)}
        </p>
        {status === 401 && <p className="mt-1 text-sm">Enter the admin secret to continue.</p>}
      </div>
      {onRetry && (
        <Button size="sm" onClick={onRetry}>
          <RefreshCw className="h-3.5 w-3.5" aria-hidden />
          Retry
        </Button>
      )}
    </div>
  )
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-line-strong px-6 py-10 text-center">
      <p className="font-medium">{title}</p>
      {children && <div className="mt-1 text-sm text-muted">{children}</div>}
    </div>
  )
}
