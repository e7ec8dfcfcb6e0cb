import type { ServiceState } from '../api/types'

const styles: Record<ServiceState, { label: string; className: string }> = {
  ready: { label: 'ready', className: 'bg-emerald-500/15 text-emerald-300 ring-emerald-500/40' },
  not_ready: { label: 'not ready', className: 'bg-amber-500/15 text-amber-300 ring-amber-500/40' },
  down: { label: 'down', className: 'bg-rose-500/15 text-rose-300 ring-rose-500/40' },
  disabled: { label: 'disabled', className: 'bg-stone-500/15 text-stone-400 ring-stone-500/40' },
}

export function StateBadge({ state }: { state: ServiceState }) {
  const { label, className } = styles[state] ?? styles.down
  return (
    <span className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${className}`}>
      {label}
    </span>
  )
}
