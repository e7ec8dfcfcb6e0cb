import { screen, within } from '@testing-library/react'
import { describe, expect, it, vi } from 'vitest'

import type { Liveness, ServicesOverview, ServiceStatus } from '../api/health'
import { renderWithQueries } from '../test/render'
import { Startup } from './Startup'

const LIVE_PATH = '/recovery-api/health/live'
const SERVICES_PATH = '/recovery-api/api/v1/recovery/services'

const liveness: Liveness = { service: 'recovery', status: 'alive', version: '0.1.0', uptime_seconds: 12 }

function service(overrides: Partial<ServiceStatus> & Pick<ServiceStatus, 'name' | 'port'>): ServiceStatus {
  return {
    url: `http://127.0.0.1:${overrides.port}`,
    profile: null,
    state: 'ready',
    latency_ms: 2.5,
    detail: null,
    checks: [],
    ...overrides,
  }
}

const mixedOverview: ServicesOverview = {
  services: [
    service({ name: 'orchestrator', port: 8000 }),
    service({ name: 'llm-gateway', port: 8001 }),
    service({
      name: 'memory-service',
      port: 8002,
      state: 'not_ready',
      checks: [
        { name: 'redis', status: 'ok', required: true, latency_ms: 0.4, detail: null },
        { name: 'postgres', status: 'down', required: true, latency_ms: null, detail: 'connection refused' },
      ],
    }),
    service({ name: 'cortex', port: 8100, state: 'down', latency_ms: null, detail: 'connect timeout' }),
    service({ name: 'voice-service', port: 8130, profile: 'voice', state: 'disabled', latency_ms: null }),
  ],
  ready: 2,
  total: 4,
  checked_at: '2026-11-27T05:00:00Z',
}

type Answer = Response | Error

/** Answer the dashboard's requests by path, as the proxy in front of recovery would. */
function stubRecovery(answers: Record<string, () => Answer>) {
  const fetchMock = vi.fn<typeof fetch>(async (input) => {
    const answer = answers[String(input)]?.() ?? new Response(null, { status: 404 })
    if (answer instanceof Error) throw answer
    return answer
  })
  vi.stubGlobal('fetch', fetchMock)
  return fetchMock
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

function requestedPaths(fetchMock: ReturnType<typeof stubRecovery>) {
  return fetchMock.mock.calls.map(([input]) => String(input))
}

describe('Startup', () => {
  it('waits for recovery while it cannot be reached', async () => {
    const fetchMock = stubRecovery({ [LIVE_PATH]: () => new TypeError('Failed to fetch') })

    renderWithQueries(<Startup />)

    expect(await screen.findByText('Last attempt: Failed to fetch')).toBeTruthy()
    expect(screen.getByText('Waiting for the recovery service…')).toBeTruthy()
    expect(requestedPaths(fetchMock)).not.toContain(SERVICES_PATH)
  })

  it('waits for recovery while the proxy answers 502 for it', async () => {
    stubRecovery({
      [LIVE_PATH]: () => json({ detail: 'recovery is not reachable at http://127.0.0.1:8888 (ECONNREFUSED)' }, 502),
    })

    renderWithQueries(<Startup />)

    expect(await screen.findByText(/502 recovery is not reachable/)).toBeTruthy()
    expect(screen.getByText('Waiting for the recovery service…')).toBeTruthy()
  })

  it('lists one row per service with the ready count and the failing checks', async () => {
    stubRecovery({ [LIVE_PATH]: () => json(liveness), [SERVICES_PATH]: () => json(mixedOverview) })

    renderWithQueries(<Startup />)

    expect(await screen.findByText('2 of 4 services ready')).toBeTruthy()
    const [, ...rows] = within(screen.getByRole('table')).getAllByRole('row')
    expect(rows.map((row) => within(row).getAllByRole('cell')[0]?.textContent)).toEqual([
      'orchestrator',
      'llm-gateway',
      'memory-service',
      'cortex',
      'voice-service',
    ])
    const memoryRow = rows[2]!
    expect(within(memoryRow).getByText('not ready')).toBeTruthy()
    expect(within(memoryRow).getByText('postgres')).toBeTruthy()
    expect(within(memoryRow).getByText(/connection refused/)).toBeTruthy()
    expect(within(memoryRow).queryByText('redis')).toBeNull()
    expect(within(rows[3]!).getByText('connect timeout')).toBeTruthy()
    expect(within(rows[4]!).getByText('voice')).toBeTruthy()
    expect(screen.queryByText('Nova is ready')).toBeNull()
  })

  it('shows the ready banner when every enabled service is ready', async () => {
    const allReady: ServicesOverview = {
      services: [
        service({ name: 'orchestrator', port: 8000 }),
        service({ name: 'recovery', port: 8888 }),
        service({ name: 'voice-service', port: 8130, profile: 'voice', state: 'disabled', latency_ms: null }),
      ],
      ready: 2,
      total: 2,
      checked_at: '2026-11-27T05:00:00Z',
    }
    stubRecovery({ [LIVE_PATH]: () => json(liveness), [SERVICES_PATH]: () => json(allReady) })

    renderWithQueries(<Startup />)

    expect(await screen.findByText('Nova is ready')).toBeTruthy()
    expect(screen.getByText('2 of 2 services ready')).toBeTruthy()
  })

  it('asks for the admin secret when recovery refuses the service list with 401', async () => {
    stubRecovery({
      [LIVE_PATH]: () => json(liveness),
      [SERVICES_PATH]: () => json({ detail: 'Invalid admin secret' }, 401),
    })

    renderWithQueries(<Startup />)

    const alert = await screen.findByRole('alert')
    expect(within(alert).getByText('401 Invalid admin secret')).toBeTruthy()
    expect(within(alert).getByText('Enter the admin secret to continue.')).toBeTruthy()
  })
})
