import { useQuery } from '@tanstack/react-query'
import { ArrowRight } from 'lucide-react'
import { useState } from 'react'

import { CONTRADICTION_STATES, memoryQueries, type ContradictionState } from '../../api/memory'
import { dateTime, timeAgo } from '../../format'
import { SelectField } from '../Field'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { Pager } from './SourcesPanel'

const PAGE_SIZE = 25

const STATE_HELP: Record<ContradictionState, { label: string; tone: string }> = {
  pending: { label: 'waiting for review', tone: badgeTone.warn },
  superseded: { label: 'replaced the old value', tone: badgeTone.accent },
  resolved: { label: 'resolved', tone: badgeTone.good },
  rejected: { label: 'rejected', tone: badgeTone.neutral },
}

/** Facts a newer statement contradicted: what Nova believed, what it heard, and what became of it. */
export function ContradictionsPanel() {
  const [state, setState] = useState<ContradictionState | ''>('')
  const [offset, setOffset] = useState(0)
  const page = useQuery(memoryQueries.contradictions({ state: state || undefined, offset, limit: PAGE_SIZE }))
  const items = page.data?.items ?? []

  return (
    <div>
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <p className="max-w-2xl text-sm text-muted">
          A statement from a trusted source replaces the old value at once (its history is kept). One from a less trusted source
          waits for review until the next consolidation. To settle one yourself, correct the belief on the Profile tab.
        </p>
        <SelectField
          label="State"
          className="w-48"
          value={state}
          onChange={(event) => {
            setState(event.target.value as ContradictionState | '')
            setOffset(0)
          }}
        >
          <option value="">Every state</option>
          {CONTRADICTION_STATES.map((name) => (
            <option key={name} value={name}>
              {STATE_HELP[name].label}
            </option>
          ))}
        </SelectField>
      </div>
      {page.isPending && <Loading label="Loading contradictions…" />}
      {page.isError && <ErrorNotice title="Could not load the contradictions" error={page.error} onRetry={() => void page.refetch()} />}
      {page.isSuccess && items.length === 0 && <EmptyState title="No contradictions">Nothing Nova heard disagreed with what it believed.</EmptyState>}
      {items.length > 0 && (
        <ul className={`space-y-2 ${page.isPlaceholderData ? 'opacity-60' : ''}`} aria-label="Contradictions">
          {items.map((item) => (
            <li key={item.id} className="rounded-lg border border-line bg-panel p-3">
              <div className="mb-2 flex flex-wrap items-center gap-2 text-xs text-muted">
                <Badge className={STATE_HELP[item.state].tone}>{STATE_HELP[item.state].label}</Badge>
                {(item.category || item.key) && <span className="font-medium text-fg">{[item.category, item.key].filter(Boolean).join(' · ')}</span>}
                <span title={dateTime(item.created_at)}>{timeAgo(item.created_at)}</span>
                {item.resolved_at && <span>· settled {timeAgo(item.resolved_at)}</span>}
              </div>
              <div className="grid items-start gap-2 text-sm sm:grid-cols-[1fr_auto_1fr]">
                <p className="rounded-md bg-sunken p-2 break-words whitespace-pre-wrap">
                  <span className="sr-only">Believed: </span>
                  {item.previous_content}
                </p>
                <ArrowRight className="mx-auto hidden h-4 w-4 text-muted sm:block" aria-hidden />
                <p className="rounded-md bg-sunken p-2 break-words whitespace-pre-wrap">
                  <span className="sr-only">Heard: </span>
                  {item.new_content}
                </p>
              </div>
            </li>
          ))}
        </ul>
      )}
      {page.isSuccess && <Pager offset={offset} shown={items.length} total={page.data.total} pageSize={PAGE_SIZE} onPage={setOffset} />}
    </div>
  )
}
