import type { Goal, GoalStatus } from '../api/goals'
import { timeAgo, usd } from '../format'
import { Badge, badgeTone } from './StateBadge'

const STATUS_TONE: Record<GoalStatus, string> = {
  active: badgeTone.good,
  paused: badgeTone.warn,
  completed: badgeTone.accent,
  failed: badgeTone.bad,
  cancelled: badgeTone.neutral,
}

export function GoalStatusBadge({ status }: { status: GoalStatus }) {
  return <Badge className={STATUS_TONE[status] ?? badgeTone.neutral}>{status}</Badge>
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const percent = Math.round(Math.min(1, Math.max(0, value)) * 100)
  return (
    <div className="flex items-center gap-2">
      <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}
        className="h-1.5 w-24 overflow-hidden rounded-full bg-sunken">
        <div className="h-full rounded-full bg-accent" style={{ width: `${percent}%` }} />
      </div>
      <span className="text-xs text-muted tabular-nums">{percent} %</span>
    </div>
  )
}

/** "in 3 hours" for a scheduled goal, "—" for one that runs until done. */
export function nextRun(goal: Goal, now: number = Date.now()): string {
  if (!goal.schedule_cron) return '—'
  if (!goal.schedule_next_at) return goal.status === 'active' ? 'due' : '—'
  return timeAgo(goal.schedule_next_at, now)
}

/** "$0.42 of $5.00", or the cost alone when the goal has no cap. */
export function costAgainstCap(goal: Goal): string {
  return goal.max_cost_usd != null ? `${usd(goal.cost_usd)} of ${usd(goal.max_cost_usd)}` : usd(goal.cost_usd)
}
