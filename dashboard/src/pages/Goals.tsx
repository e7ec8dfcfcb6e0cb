import { useQuery } from '@tanstack/react-query'
import { Plus } from 'lucide-react'
import { useState } from 'react'
import { Link } from 'react-router'

import { goalQueries, type Goal, type GoalStatus } from '../api/goals'
import { Button } from '../components/Button'
import { CortexPanel } from '../components/CortexPanel'
import { SelectField } from '../components/Field'
import { costAgainstCap, GoalStatusBadge, nextRun, ProgressBar } from '../components/GoalBits'
import { GoalForm } from '../components/GoalForm'
import { Page, PageHeader, Panel } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'

const STATUSES: GoalStatus[] = ['active', 'paused', 'completed', 'failed', 'cancelled']

/** Goals cortex works towards, with the cortex panel above them. */
export function Component() {
  const [creating, setCreating] = useState(false)
  const [status, setStatus] = useState<GoalStatus | ''>('')

  return (
    <Page wide>
      <PageHeader
        title="Goals"
        description="What Nova works on by itself, within its budget; cortex picks the next one on every cycle."
        actions={
          <Button variant="primary" onClick={() => setCreating(true)}>
            <Plus className="h-4 w-4" aria-hidden />
            New goal
          </Button>
        }
      />
      <div className="space-y-6">
        <Panel
          title="Goals"
          actions={
            <SelectField label="Status" value={status} onChange={(event) => setStatus(event.target.value as GoalStatus | '')} className="w-40">
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </SelectField>
          }
        >
          <GoalList status={status || undefined} />
        </Panel>
        <CortexPanel />
      </div>
      {creating && <GoalForm goal={null} onClose={() => setCreating(false)} />}
    </Page>
  )
}

function GoalList({ status }: { status: GoalStatus | undefined }) {
  const goals = useQuery(goalQueries.list(status))
  if (goals.isPending) return <Loading label="Loading goals…" />
  if (goals.isError) return <ErrorNotice title="Could not load goals" error={goals.error} onRetry={() => void goals.refetch()} />
  if (goals.data.length === 0)
    return <EmptyState title={status ? `No ${status} goals` : 'No goals yet'}>Create one, or ask in chat: “remind me every Monday to review my PRs”.</EmptyState>
  return (
    <div className="-mx-4 overflow-x-auto">
      <table className="w-full min-w-[44rem] text-sm">
        <thead className="text-left text-xs text-muted">
          <tr>
            <th className="px-4 py-2 font-medium">Goal</th>
            <th className="px-2 py-2 font-medium">Status</th>
            <th className="px-2 py-2 font-medium">Priority</th>
            <th className="px-2 py-2 font-medium">Progress</th>
            <th className="px-2 py-2 font-medium">Next run</th>
            <th className="px-4 py-2 font-medium">Cost</th>
          </tr>
        </thead>
        <tbody>
          {goals.data.map((goal) => (
            <GoalRow key={goal.id} goal={goal} />
          ))}
        </tbody>
      </table>
    </div>
  )
}

function GoalRow({ goal }: { goal: Goal }) {
  return (
    <tr className="border-t border-line align-top" data-testid="goal-row">
      <td className="px-4 py-2">
        <Link to={`/goals/${goal.id}`} className="font-medium text-accent hover:underline">
          {goal.title}
        </Link>
        <div className="mt-0.5 flex flex-wrap gap-1 text-xs text-muted">
          {goal.schedule_description && <span>{goal.schedule_description}</span>}
          {goal.maturation_status === 'review' && <Badge className={badgeTone.warn}>spec to review</Badge>}
          {goal.maturation_status && goal.maturation_status !== 'review' && <Badge className={badgeTone.neutral}>{goal.maturation_status}</Badge>}
        </div>
      </td>
      <td className="px-2 py-2">
        <GoalStatusBadge status={goal.status} />
      </td>
      <td className="px-2 py-2 tabular-nums">{goal.priority}</td>
      <td className="px-2 py-2">
        <ProgressBar value={goal.progress} label={`${goal.title} progress`} />
      </td>
      <td className="px-2 py-2 whitespace-nowrap">{nextRun(goal)}</td>
      <td className="px-4 py-2 whitespace-nowrap tabular-nums">{costAgainstCap(goal)}</td>
    </tr>
  )
}
