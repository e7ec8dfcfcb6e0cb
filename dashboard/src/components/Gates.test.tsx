import { screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import type { ReactNode } from 'react'
import { Route, Routes } from 'react-router'
import { describe, expect, it } from 'vitest'

import { ADMIN_SECRET_STORAGE_KEY } from '../api/client'
import { json, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { ONBOARDED_KEY, OnboardingGate } from './OnboardingGate'
import { StartupGate } from './StartupGate'

function renderGated(ui: ReactNode) {
  return renderPage(
    <Routes>
      <Route path="/" element={ui} />
      <Route path="/onboarding" element={<p>onboarding wizard</p>} />
    </Routes>,
  )
}

describe('OnboardingGate', () => {
  it('sends a browser without the admin secret to the wizard', async () => {
    stubApi(() => [])
    renderGated(<OnboardingGate>app</OnboardingGate>)

    expect(await screen.findByText('onboarding wizard')).toBeTruthy()
  })

  it('lets the app through when the installation finished onboarding', async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, 's')
    stubApi(() => [{ key: 'onboarding.completed', value: true, is_secret: false, is_set: true }])
    renderGated(<OnboardingGate>app</OnboardingGate>)

    expect(await screen.findByText('app')).toBeTruthy()
    expect(localStorage.getItem(ONBOARDED_KEY)).toBe('1')
  })

  it('sends a first visit to the wizard, and a refused secret too', async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, 's')
    stubApi(() => [{ key: 'nova.name', value: 'Nova', is_secret: false, is_set: false }])
    const first = renderGated(<OnboardingGate>app</OnboardingGate>)
    expect(await screen.findByText('onboarding wizard')).toBeTruthy()
    first.unmount()

    stubApi(() => json({ detail: 'invalid admin secret' }, 401))
    renderGated(<OnboardingGate>app</OnboardingGate>)
    expect(await screen.findByText('onboarding wizard')).toBeTruthy()
  })
})

describe('StartupGate', () => {
  const overview = (state: string) => ({
    services: [{ name: 'orchestrator', url: 'http://127.0.0.1:8000', port: 8000, state }],
    ready: state === 'ready' ? 1 : 0,
    total: 1,
  })

  it('shows the startup screen until the orchestrator is ready', async () => {
    let state = 'not_ready'
    stubApi((call) => (call.url.endsWith('/health/live') ? { service: 'recovery', status: 'alive', version: '1', uptime_seconds: 1 } : overview(state)))
    renderGated(<StartupGate>app</StartupGate>)

    expect(await screen.findByText(/Nova is starting/)).toBeTruthy()
    expect(screen.queryByText('app')).toBeNull()
    state = 'ready'
    expect(await screen.findByText('app', {}, { timeout: 5000 })).toBeTruthy()
  })

  it('can be passed by hand when recovery itself is down', async () => {
    stubApi(() => new TypeError('Failed to fetch'))
    renderGated(<StartupGate>app</StartupGate>)

    await userEvent.click(await screen.findByRole('button', { name: 'Open the dashboard anyway' }))
    expect(screen.getByText('app')).toBeTruthy()
  })
})
