import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Combine } from 'lucide-react'
import { useState } from 'react'

import { errorMessage } from '../../api/client'
import { memoryApi, memoryQueries, type ConsolidationRun } from '../../api/memory'
import { count, dateTime, milliseconds } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { FormError } from '../Field'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { Pager } from './SourcesPanel'

const PAGE_SIZE = 20

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

/** "merged 2 near-duplicates, decayed 5 unused memories": a run's counts in words, the ones that did nothing left out. */
export function describeRun(run: ConsolidationRun): string {
  const parts = [
    run.merged ? `merged ${plural(run.merged, 'near-duplicate', 'near-duplicates')}` : null,
    run.summarised_clusters
      ? `summarised ${plural(run.summarised_clusters, 'cluster', 'clusters')} into ${plural(run.summaries_created ?? 0, 'memory', 'memories')}`
      : null,
    run.decayed ? `decayed ${plural(run.decayed, 'unused memory', 'unused memories')}` : null,
    run.contradictions_resolved ? `resolved ${plural(run.contradictions_resolved, 'contradiction', 'contradictions')}` : null,
  ].filter(Boolean)
  return parts.length ? parts.join(', ') : 'nothing to do'
}

/** Consolidation runs (idle, nightly, manual) with their counts, and a button to run one now. */
export function ConsolidationPanel() {
  const queryClient = useQueryClient()
  const [offset, setOffset] = useState(0)
  const log = useQuery(memoryQueries.consolidationLog({ offset, limit: PAGE_SIZE }))
  const run = useMutation({
    mutationFn: memoryApi.consolidate,
    meta: { errorToast: false },
    onSuccess: (result) => {
      if (result.error) toast.error(`Consolidation failed: ${result.error}`)
      else toast.success(`Consolidation finished: ${describeRun(result)}.`)
      setOffset(0)
      void queryClient.invalidateQueries({ queryKey: memoryQueries.all })
    },
  })
  const items = log.data?.items ?? []

  return (
    <div>
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <p className="max-w-2xl text-sm text-muted">
          Consolidation merges near-duplicates, summarises clusters of related episodes, lets unused memories fade and applies
          contradictions waiting for review. It runs when Nova is idle and every night.
        </p>
        <Button variant="primary" busy={run.isPending} onClick={() => run.mutate()}>
          <Combine className="h-4 w-4" aria-hidden />
          Run now
        </Button>
      </div>
      {run.isError && (
        <div className="mb-4">
          <FormError message={`Could not run consolidation: ${errorMessage(run.error)}`} />
        </div>
      )}
      {log.isPending && <Loading label="Loading the consolidation log…" />}
      {log.isError && <ErrorNotice title="Could not load the consolidation log" error={log.error} onRetry={() => void log.refetch()} />}
      {log.isSuccess && items.length === 0 && <EmptyState title="No consolidation runs yet">Run one now, or wait for Nova to be idle.</EmptyState>}
      {items.length > 0 && (
        <div className={`overflow-x-auto rounded-lg border border-line bg-panel ${log.isPlaceholderData ? 'opacity-60' : ''}`}>
          <table className="w-full text-sm" aria-label="Consolidation runs">
            <thead className="text-left text-xs text-muted">
              <tr className="border-b border-line">
                <th className="px-3 py-2 font-medium">Started</th>
                <th className="px-3 py-2 font-medium">Trigger</th>
                <th className="px-3 py-2 font-medium">Took</th>
                <th className="px-3 py-2 text-right font-medium">Merged</th>
                <th className="px-3 py-2 text-right font-medium">Clusters summarised</th>
                <th className="px-3 py-2 text-right font-medium">Summaries</th>
                <th className="px-3 py-2 text-right font-medium">Decayed</th>
                <th className="px-3 py-2 text-right font-medium">Contradictions resolved</th>
              </tr>
            </thead>
            <tbody>
              {items.map((entry) => (
                <tr key={entry.id} className="border-b border-line last:border-0 align-top">
                  <td className="px-3 py-2 whitespace-nowrap">
                    {dateTime(entry.started_at)}
                    {entry.error && <p className="mt-1 max-w-xs text-xs break-words text-rose-700 dark:text-rose-300">{entry.error}</p>}
                  </td>
                  <td className="px-3 py-2">
                    <Badge className={entry.error ? badgeTone.bad : entry.finished_at ? badgeTone.neutral : badgeTone.warn}>
                      {entry.error ? `${entry.trigger} · failed` : entry.finished_at ? entry.trigger : `${entry.trigger} · running`}
                    </Badge>
                  </td>
                  <td className="px-3 py-2 whitespace-nowrap text-muted">
                    {entry.finished_at ? milliseconds(new Date(entry.finished_at).getTime() - new Date(entry.started_at).getTime()) : '—'}
                  </td>
                  <CountCell value={entry.merged} />
                  <CountCell value={entry.summarised_clusters} />
                  <CountCell value={entry.summaries_created} />
                  <CountCell value={entry.decayed} />
                  <CountCell value={entry.contradictions_resolved} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {log.isSuccess && (
        <Pager offset={offset} shown={items.length} total={log.data.total} pageSize={PAGE_SIZE} onPage={setOffset} />
      )}
    </div>
  )
}

function CountCell({ value }: { value: number | undefined }) {
  return <td className={`px-3 py-2 text-right font-mono tabular-nums ${value ? '' : 'text-faint'}`}>{count(value ?? 0)}</td>
}
