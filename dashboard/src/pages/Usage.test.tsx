import { screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { UsageByModel, UsageEvent, UsageSummary } from '../api/usage'
import { stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { bucket, Component as UsagePage, sortRows } from './Usage'

const rows: UsageByModel[] = [
  { model: 'gpt-4o-mini', provider: 'openai', requests: 3, input_tokens: 900, output_tokens: 100, cost_usd: 0.0021 },
  { model: 'smollm2-135m', provider: 'local', requests: 10, input_tokens: 200, output_tokens: 300, cost_usd: 0 },
  { model: 'claude-sonnet-4-6', provider: 'anthropic', requests: 1, input_tokens: 50, output_tokens: 10, cost_usd: null },
]

function summary(period: string): UsageSummary {
  return {
    period: period as UsageSummary['period'],
    since: '2026-11-26T05:00:00Z',
    until: '2026-11-27T05:00:00Z',
    requests: 14,
    input_tokens: 1150,
    output_tokens: 410,
    cost_usd: 0.0021,
    by_model: rows,
  }
}

describe('Usage page', () => {
  it('shows totals and the per-model table, and asks again for another period', async () => {
    const calls = stubApi((call) => {
      const period = new URL(call.url, 'http://x').searchParams.get('period')
      return call.url.startsWith('/api/v1/usage/summary') ? summary(period!) : []
    })
    renderPage(<UsagePage />, { path: '/usage' })

    expect(await screen.findByText('14')).toBeTruthy()
    expect(screen.getByText('$0.0021', { selector: 'dd' })).toBeTruthy()
    const table = screen.getByRole('table', { name: 'Usage by model' })
    const models = within(table).getAllByRole('row').slice(1).map((row) => within(row).getAllByRole('cell')[0]!.textContent)
    expect(models).toEqual(['gpt-4o-mini', 'smollm2-135m', 'claude-sonnet-4-6'])

    await userEvent.click(screen.getByLabelText('Requests'))
    const resorted = within(screen.getByRole('table', { name: 'Usage by model' })).getAllByRole('row').slice(1)
    expect(within(resorted[0]!).getAllByRole('cell')[0]!.textContent).toBe('smollm2-135m')

    await userEvent.click(screen.getByLabelText('Week'))
    await screen.findByText('14')
    expect(calls.some((c) => c.url === '/api/v1/usage/summary?period=week')).toBe(true)
  })

  it('says when nothing was used', async () => {
    stubApi((call) => (call.url.startsWith('/api/v1/usage/summary') ? { ...summary('day'), requests: 0, by_model: [] } : []))
    renderPage(<UsagePage />, { path: '/usage' })

    expect(await screen.findByText('No model calls in the last day')).toBeTruthy()
  })
})

describe('usage helpers', () => {
  it('sorts by cost with unknown prices last', () => {
    expect(sortRows(rows, 'cost').map((r) => r.model)).toEqual(['gpt-4o-mini', 'smollm2-135m', 'claude-sonnet-4-6'])
    expect(sortRows(rows, 'model').map((r) => r.model)).toEqual(['claude-sonnet-4-6', 'gpt-4o-mini', 'smollm2-135m'])
  })

  it('counts completions per bucket and leaves out embeddings and older calls', () => {
    const event = (created_at: string, kind: UsageEvent['kind'] = 'completion') =>
      ({ created_at, kind, id: created_at, provider: 'p', model: 'm', input_tokens: 1, output_tokens: 1, latency_ms: 1 }) as UsageEvent
    const buckets = bucket(
      [
        event('2026-11-27T00:10:00Z'),
        event('2026-11-27T00:50:00Z'),
        event('2026-11-27T02:00:00Z'),
        event('2026-11-27T02:30:00Z', 'embedding'),
        event('2026-11-26T23:00:00Z'),
      ],
      '2026-11-27T00:00:00Z',
      3,
      3_600_000,
      'day',
    )
    expect(buckets.map((b) => b.value)).toEqual([2, 0, 1])
  })
})
