import type { ReactNode } from 'react'

import type { ServiceState } from '../api/health'

const styles: Record<ServiceState, { label: string; className: string }> = {
  ready: { label: 'ready', className: 'bg-emerald-100 text-emerald-800 ring-emerald-600/30 dark:bg-emerald-500/15 dark:text-emerald-300' },
  not_ready: { label: 'not ready', className: 'bg-amber-100 text-amber-900 ring-amber-600/30 dark:bg-amber-500/15 dark:text-amber-300' },
  down: { label: 'down', className: 'bg-rose-100 text-rose-800 ring-rose-600/30 dark:bg-rose-500/15 dark:text-rose-300' },
  disabled: { label: 'disabled', className: 'bg-stone-100 text-stone-600 ring-stone-500/30 dark:bg-stone-500/15 dark:text-stone-400' },
}

export function StateBadge({ state }: { state: ServiceState }) {
  const { label, className } = styles[state] ?? styles.down
  return <Badge className={className}>{label}</Badge>
}

/** A small rounded label; colour classes come from the caller. */
export function Badge({ className, children }: { className: string; children: ReactNode }) {
  return (
    <span className={`inline-flex items-center whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${className}`}>
      {children}
    </span>
  )
}

export const badgeTone = {
  good: 'bg-emerald-100 text-emerald-800 ring-emerald-600/30 dark:bg-emerald-500/15 dark:text-emerald-300',
  warn: 'bg-amber-100 text-amber-900 ring-amber-600/30 dark:bg-amber-500/15 dark:text-amber-300',
  bad: 'bg-rose-100 text-rose-800 ring-rose-600/30 dark:bg-rose-500/15 dark:text-rose-300',
  neutral: 'bg-stone-100 text-stone-700 ring-stone-500/30 dark:bg-stone-500/15 dark:text-stone-300',
  accent: 'bg-teal-50 text-teal-800 ring-teal-600/30 dark:bg-teal-500/15 dark:text-teal-300',
}
