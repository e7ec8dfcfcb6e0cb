import { useQuery } from '@tanstack/react-query'
import { useMemo, useState } from 'react'

import { usageQueries, type UsageByModel, type UsageEvent, type UsagePeriod } from '../api/usage'
import { BarList, ColumnChart, type ColumnDatum } from '../components/Charts'
import { Page, PageHeader, Panel } from '../components/Page'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { compactCount, count, usd } from '../format'

const PERIODS: { value: UsagePeriod; label: string; buckets: number; bucketMs: number }[] = [
  { value: 'day', label: 'Day', buckets: 24, bucketMs: 3_600_000 },
  { value: 'week', label: 'Week', buckets: 7, bucketMs: 86_400_000 },
  { value: 'month', label: 'Month', buckets: 30, bucketMs: 86_400_000 },
]

type SortKey = 'tokens' | 'cost' | 'requests' | 'model'
const SORTS: { value: SortKey; label: string }[] = [
  { value: 'tokens', label: 'Tokens' },
  { value: 'cost', label: 'Cost' },
  { value: 'requests', label: 'Requests' },
  { value: 'model', label: 'Name' },
]

const EVENT_PAGE = 1000

/** Usage: totals, tokens and cost by model, and requests over time, for the last day, week or month. */
export function Component() {
  const [period, setPeriod] = useState<UsagePeriod>('day')
  const [sort, setSort] = useState<SortKey>('tokens')
  const spec = PERIODS.find((p) => p.value === period)!
  // The first bucket's start, fixed per period choice so the query key does not change on every render.
  const since = useMemo(() => {
    const end = Math.ceil(Date.now() / spec.bucketMs) * spec.bucketMs
    return new Date(end - spec.buckets * spec.bucketMs).toISOString()
  }, [spec])
  const summary = useQuery(usageQueries.summary(period))
  const events = useQuery(usageQueries.events(since))

  return (
    <Page>
      <PageHeader title="Usage" description="Model calls made by Nova's agents and by API keys, as the gateway recorded them." />
      <div className="mb-6 flex flex-wrap items-end justify-between gap-4">
        <Segmented label="Period" name="period" options={PERIODS} value={period} onChange={setPeriod} />
        <Segmented label="Sort models by" name="sort" options={SORTS} value={sort} onChange={setSort} />
      </div>

      {summary.isPending && <Loading label="Loading usage…" />}
      {summary.isError && <ErrorNotice title="Could not load usage" error={summary.error} onRetry={() => void summary.refetch()} />}
      {summary.isSuccess && (
        <div className="space-y-6">
          <dl className="grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat label="Requests" value={count(summary.data.requests)} />
            <Stat label="Input tokens" value={compactCount(summary.data.input_tokens)} />
            <Stat label="Output tokens" value={compactCount(summary.data.output_tokens)} />
            <Stat label="Cost" value={usd(summary.data.cost_usd)} />
          </dl>
          {(summary.data.by_model ?? []).length === 0 ? (
            <EmptyState title={`No model calls in the last ${period}`}>Chat with Nova or call the API and usage shows up here.</EmptyState>
          ) : (
            <ByModel rows={sortRows(summary.data.by_model ?? [], sort)} />
          )}
          <Panel title="Requests over time">
            {events.isPending && <Loading label="Loading calls…" />}
            {events.isError && <ErrorNotice title="Could not load the calls" error={events.error} onRetry={() => void events.refetch()} />}
            {events.isSuccess && events.data.every((event) => event.kind === 'embedding') && (
              <p className="py-6 text-center text-sm text-muted">No chat or completion requests since {new Date(since).toLocaleString()}.</p>
            )}
            {events.isSuccess && events.data.some((event) => event.kind !== 'embedding') && (
              <>
                <ColumnChart
                  data={bucket(events.data, since, spec.buckets, spec.bucketMs, period)}
                  label={`Requests per ${period === 'day' ? 'hour' : 'day'}`}
                  valueName="Requests"
                />
                {events.data.length >= EVENT_PAGE && (
                  <p className="mt-2 text-xs text-muted">Drawn from the latest {count(EVENT_PAGE)} calls; earlier ones are left out.</p>
                )}
              </>
            )}
          </Panel>
        </div>
      )}
    </Page>
  )
}

function Segmented<T extends string>({
  label,
  name,
  options,
  value,
  onChange,
}: {
  label: string
  name: string
  options: { value: T; label: string }[]
  value: T
  onChange: (value: T) => void
}) {
  return (
    <fieldset>
      <legend className="mb-1 text-sm font-medium">{label}</legend>
      <div className="flex gap-1 rounded-lg border border-line bg-panel p-1">
        {options.map((option) => (
          <label
            key={option.value}
            className={`cursor-pointer rounded-md px-3 py-1 text-sm has-focus-visible:outline-2 has-focus-visible:outline-teal-500 ${
              value === option.value ? 'bg-accent-soft font-medium text-accent-text' : 'text-muted hover:bg-sunken'
            }`}
          >
            <input type="radio" name={name} className="sr-only" checked={value === option.value} onChange={() => onChange(option.value)} />
            {option.label}
          </label>
        ))}
      </div>
    </fieldset>
  )
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded-lg border border-line bg-panel p-3">
      <dt className="text-xs text-muted">{label}</dt>
      <dd className="text-xl font-semibold tabular-nums">{value}</dd>
    </div>
  )
}

export function sortRows(rows: UsageByModel[], sort: SortKey): UsageByModel[] {
  const tokens = (row: UsageByModel) => row.input_tokens + row.output_tokens
  const by: Record<SortKey, (a: UsageByModel, b: UsageByModel) => number> = {
    tokens: (a, b) => tokens(b) - tokens(a),
    cost: (a, b) => (b.cost_usd ?? -1) - (a.cost_usd ?? -1),
    requests: (a, b) => b.requests - a.requests,
    model: (a, b) => a.model.localeCompare(b.model),
  }
  return [...rows].sort(by[sort])
}

function ByModel({ rows }: { rows: UsageByModel[] }) {
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <Panel title="Tokens by model">
        <BarList
          label="Tokens by model"
          data={rows.map((row) => ({
            label: row.model,
            caption: compactCount(row.input_tokens + row.output_tokens),
            segments: [
              { name: 'input', value: row.input_tokens, className: 'bg-teal-600' },
              { name: 'output', value: row.output_tokens, className: 'bg-amber-500' },
            ],
          }))}
        />
        <p className="mt-3 flex gap-4 text-xs text-muted">
          <span className="flex items-center gap-1"><span className="h-2 w-3 rounded-sm bg-teal-600" aria-hidden /> input</span>
          <span className="flex items-center gap-1"><span className="h-2 w-3 rounded-sm bg-amber-500" aria-hidden /> output</span>
        </p>
      </Panel>
      <Panel title="Cost by model">
        <BarList
          label="Cost by model"
          data={rows.map((row) => ({
            label: row.model,
            caption: usd(row.cost_usd),
            segments: [{ name: 'cost', value: row.cost_usd ?? 0, className: 'bg-emerald-600' }],
          }))}
        />
        {rows.some((row) => row.cost_usd == null) && <p className="mt-3 text-xs text-muted">— means the price of that model is unknown.</p>}
      </Panel>
      <div className="relative overflow-x-auto rounded-lg border border-line bg-panel lg:col-span-2">
        <table className="w-full text-left text-sm">
          <caption className="sr-only">Usage by model</caption>
          <thead className="bg-sunken text-xs tracking-wide text-muted uppercase">
            <tr>
              <th scope="col" className="px-4 py-2 font-medium">Model</th>
              <th scope="col" className="px-4 py-2 font-medium">Provider</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">Requests</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">Input</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">Output</th>
              <th scope="col" className="px-4 py-2 text-right font-medium">Cost</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-line">
            {rows.map((row) => (
              <tr key={`${row.provider}/${row.model}`}>
                <td className="px-4 py-2 font-mono text-xs">{row.model}</td>
                <td className="px-4 py-2">{row.provider}</td>
                <td className="px-4 py-2 text-right tabular-nums">{count(row.requests)}</td>
                <td className="px-4 py-2 text-right tabular-nums">{count(row.input_tokens)}</td>
                <td className="px-4 py-2 text-right tabular-nums">{count(row.output_tokens)}</td>
                <td className="px-4 py-2 text-right tabular-nums">{usd(row.cost_usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  )
}

/** Completed calls counted per hour or day, oldest bucket first; embeddings are not requests a user made. */
export function bucket(events: UsageEvent[], since: string, buckets: number, bucketMs: number, period: UsagePeriod): ColumnDatum[] {
  const start = new Date(since).getTime()
  const counts = new Array<number>(buckets).fill(0)
  for (const event of events) {
    if (event.kind === 'embedding') continue
    const index = Math.floor((new Date(event.created_at).getTime() - start) / bucketMs)
    if (index >= 0 && index < buckets) counts[index]! += 1
  }
  const format: Intl.DateTimeFormatOptions = period === 'day' ? { hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' }
  return counts.map((value, i) => ({ label: new Date(start + i * bucketMs).toLocaleString(undefined, format), value }))
}
