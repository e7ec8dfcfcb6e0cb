import { useQuery } from '@tanstack/react-query'

import { intelQueries } from '../api/intel'
import { Page, PageHeader } from '../components/Page'
import { CredentialsPanel } from '../components/sources/CredentialsPanel'
import { FeedsPanel } from '../components/sources/FeedsPanel'
import { KnowledgeSourcesPanel } from '../components/sources/KnowledgeSourcesPanel'
import { RecommendationsPanel } from '../components/sources/RecommendationsPanel'
import { count } from '../format'

/** What Nova reads for you: feeds and the recommendations they bring, knowledge sources and their tokens. */
export function Component() {
  return (
    <Page wide>
      <PageHeader
        title="Sources"
        description="Feeds Nova watches and the recommendations it draws from them; sites, GitHub accounts and text it learns from."
      />
      <IntelSummary />
      <div className="grid gap-6 xl:grid-cols-2">
        <div className="min-w-0 space-y-6">
          <FeedsPanel />
          <RecommendationsPanel />
        </div>
        <div className="min-w-0 space-y-6">
          <KnowledgeSourcesPanel />
          <CredentialsPanel />
        </div>
      </div>
    </Page>
  )
}

/** The intel counters in one line; silent while loading or when the stats are unavailable (the panels say why). */
function IntelSummary() {
  const stats = useQuery(intelQueries.stats())
  if (!stats.isSuccess) return null
  const s = stats.data
  const entries: [string, number, boolean?][] = [
    ['feeds watched', s.feeds_enabled],
    ['failing', s.feeds_failing, s.feeds_failing > 0],
    ['items today', s.items_last_24h],
    ['waiting for a digest', s.undigested_items],
    ['new recommendations', s.recommendations_by_status?.new ?? 0],
  ]
  return (
    <dl className="mb-6 flex flex-wrap gap-x-6 gap-y-2 text-sm" aria-label="Intel summary">
      {entries.map(([label, value, alarming]) => (
        <div key={label} className="flex items-baseline gap-1.5">
          <dt className="order-2 text-muted">{label}</dt>
          <dd className={`order-1 text-lg font-semibold tabular-nums ${alarming ? 'text-rose-700 dark:text-rose-300' : ''}`}>{count(value)}</dd>
        </div>
      ))}
    </dl>
  )
}
