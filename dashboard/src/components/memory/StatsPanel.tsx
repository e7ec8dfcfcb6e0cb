import { useQuery } from '@tanstack/react-query'

import { MEMORY_TIERS, memoryQueries } from '../../api/memory'
import { count, timeAgo } from '../../format'
import { Panel } from '../Page'
import { ErrorNotice, Loading } from '../States'
import { describeRun } from './ConsolidationPanel'

/** Counts by tier and source kind, the queue, the last consolidation and how often recalled memories get used. */
export function StatsPanel() {
  const stats = useQuery(memoryQueries.stats())
  if (stats.isPending) return <Loading label="Loading statistics…" />
  if (stats.isError) return <ErrorNotice title="Could not load the statistics" error={stats.error} onRetry={() => void stats.refetch()} />

  const data = stats.data
  const byTier = data.by_tier ?? {}
  // The four tiers always, in their usual order, then any the service adds.
  const tiers = [...MEMORY_TIERS, ...Object.keys(byTier).filter((tier) => !MEMORY_TIERS.includes(tier as never))]
  // Memories stored before sources were kept (or by hand) are counted under "none".
  const kinds = Object.entries(data.by_source_kind ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]): [string, number] => [kind === 'none' ? 'no source recorded' : kind, n])
  const last = data.last_consolidation
  return (
    <div className="grid gap-4 md:grid-cols-2">
      <Panel title="By tier">
        <Counts label="Memories by tier" rows={tiers.map((tier) => [tier, byTier[tier] ?? 0])} />
        {!!data.unextracted && (
          <p className="mt-2 text-xs text-muted">
            {count(data.unextracted)} kept as plain episodes because the model&apos;s answer could not be read.
          </p>
        )}
      </Panel>
      <Panel title="By source">
        {kinds.length ? <Counts label="Memories by source kind" rows={kinds} /> : <p className="text-sm text-muted">No memory has a source yet.</p>}
      </Panel>
      <Panel title="Recall">
        <Counts
          label="Recall"
          rows={[
            ['context assemblies', data.retrievals ?? 0],
            ['with feedback', data.retrievals_with_feedback ?? 0],
          ]}
        />
        <p className="mt-2 text-sm">
          Usage rate:{' '}
          <strong>{data.usage_rate == null ? 'not measured yet' : `${Math.round(data.usage_rate * 100)}% of recalled memories were used`}</strong>
        </p>
      </Panel>
      <Panel title="Queue and consolidation">
        <Counts
          label="Ingestion queue"
          rows={[
            ['waiting', data.queue.queued],
            ['being formed', data.queue.processing],
            ['dead letters', data.queue.dead_letters],
          ]}
        />
        <p className="mt-2 text-sm">
          Last consolidation:{' '}
          {last ? (
            <>
              {timeAgo(last.started_at)} ({last.trigger}) — {last.error ? `failed: ${last.error}` : describeRun(last)}
            </>
          ) : (
            'never'
          )}
        </p>
      </Panel>
    </div>
  )
}

function Counts({ label, rows }: { label: string; rows: [string, number][] }) {
  return (
    <dl aria-label={label} className="grid grid-cols-[1fr_auto] gap-x-4 gap-y-1 text-sm">
      {rows.map(([name, value]) => (
        <div key={name} className="contents">
          <dt className="text-muted">{name}</dt>
          <dd className="text-right font-mono tabular-nums">{count(value)}</dd>
        </div>
      ))}
    </dl>
  )
}
