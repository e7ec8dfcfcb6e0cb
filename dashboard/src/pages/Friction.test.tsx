import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { FrictionInfo } from '../api/friction'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as FrictionPage } from './Friction'

const report: FrictionInfo = {
  id: 'f-1',
  text: 'The chart on Usage is empty',
  page: '/usage',
  status: 'open',
  has_screenshot: true,
  owner: 'admin',
  created_at: '2026-12-04T22:00:00Z',
  updated_at: '2026-12-04T22:00:00Z',
}

/** The orchestrator's friction routes over one report kept in memory. */
function api(initial: FrictionInfo[]) {
  let reports = initial
  return stubApi((call) => {
    if (call.method === 'GET' && call.url.startsWith('/api/v1/friction?')) {
      const status = new URLSearchParams(call.url.split('?')[1]).get('status')
      return reports.filter((r) => !status || r.status === status)
    }
    if (call.method === 'GET' && call.url === '/api/v1/friction/f-1') return { ...reports[0], screenshot: 'data:image/png;base64,iVBORw0KGgo=' }
    if (call.method === 'PATCH' && call.url === '/api/v1/friction/f-1') {
      reports = reports.map((r) => ({ ...r, ...(call.body as Partial<FrictionInfo>) }))
      return reports[0]
    }
    if (call.method === 'POST' && call.url === '/api/v1/friction/f-1/fix') {
      reports = reports.map((r) => ({ ...r, status: 'fixing', task_id: 't-9' }))
      return json(reports[0], 202)
    }
    if (call.method === 'DELETE' && call.url === '/api/v1/friction/f-1') {
      reports = []
      return json(null, 204)
    }
    return notFound(call)
  })
}

describe('Friction page', () => {
  it('lists reports with their page and status, and says when there are none', async () => {
    api([])
    const { unmount } = renderPage(<FrictionPage />, { path: '/friction' })
    expect(await screen.findByText('No reports yet')).toBeTruthy()
    unmount()

    api([report])
    renderPage(<FrictionPage />, { path: '/friction' })
    const list = await screen.findByRole('list', { name: 'Friction reports' })
    expect(within(list).getByText('The chart on Usage is empty')).toBeTruthy()
    expect(within(list).getByRole('link', { name: '/usage' }).getAttribute('href')).toBe('/usage')
    expect(within(list).getByText('open', { selector: 'span' })).toBeTruthy()
  })

  it('filters by status', async () => {
    const calls = api([report])
    renderPage(<FrictionPage />, { path: '/friction' })
    await screen.findByText('The chart on Usage is empty')

    await userEvent.selectOptions(screen.getByLabelText('Status'), 'fixed')
    expect(await screen.findByText('No fixed reports')).toBeTruthy()
    expect(calls.some((c) => c.url === '/api/v1/friction?status=fixed&limit=100')).toBe(true)
  })

  it('changes a report’s status', async () => {
    const calls = api([report])
    renderPage(<FrictionPage />, { path: '/friction' })
    await screen.findByText('The chart on Usage is empty')

    await userEvent.selectOptions(screen.getByLabelText('Status of this report'), 'dismissed')

    expect(await screen.findByText('Report marked dismissed')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ status: 'dismissed' })
    await waitFor(() => expect(within(screen.getByRole('list', { name: 'Friction reports' })).getByText('dismissed', { selector: 'span' })).toBeTruthy())
  })

  it('hands a report to the pipeline with “Fix this” and links to the task', async () => {
    const calls = api([report])
    renderPage(<FrictionPage />, { path: '/friction' })
    await userEvent.click(await screen.findByRole('button', { name: 'Fix this' }))

    const link = await screen.findByRole('link', { name: 'Open fix task' })
    expect(link.getAttribute('href')).toBe('/tasks?task=t-9')
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/v1/friction/f-1/fix'])
    expect(screen.queryByRole('button', { name: 'Fix this' })).toBeNull()
  })

  it('shows the screenshot, which only the single report carries', async () => {
    api([report])
    renderPage(<FrictionPage />, { path: '/friction' })
    await userEvent.click(await screen.findByRole('button', { name: 'View screenshot' }))
    const dialog = await screen.findByRole('dialog', { name: 'Screenshot' })
    expect((await within(dialog).findByRole('img')).getAttribute('src')).toBe('data:image/png;base64,iVBORw0KGgo=')
  })

  it('deletes a report after confirmation', async () => {
    const calls = api([report])
    renderPage(<FrictionPage />, { path: '/friction' })
    await userEvent.click(await screen.findByRole('button', { name: 'Delete report' }))
    await userEvent.click(within(screen.getByRole('dialog', { name: 'Delete this report?' })).getByRole('button', { name: 'Delete report' }))

    expect(await screen.findByText('No reports yet')).toBeTruthy()
    expect(calls.find((c) => c.method === 'DELETE')?.url).toBe('/api/v1/friction/f-1')
  })
})
