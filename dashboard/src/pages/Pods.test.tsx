import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { PodAgentInfo, PodInfo } from '../api/pods'
import { json, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as PodsPage } from './Pods'

function agent(name: string, role: PodAgentInfo['role'], position: number): PodAgentInfo {
  return {
    name,
    role,
    position,
    enabled: true,
    temperature: 0.3,
    max_tokens: 4096,
    timeout_seconds: 120,
    max_retries: 1,
    on_failure: 'abort',
    run_condition: { type: 'always', conditions: [] },
  } as PodAgentInfo
}

const coding: PodInfo = {
  id: 'p-1',
  name: 'coding',
  description: 'Writes and reviews code',
  enabled: true,
  is_default: true,
  priority: 10,
  sandbox_tier: 'workspace',
  routing_keywords: ['fix', 'bug'],
  agents: [agent('reviewer', 'code_review', 2), agent('context', 'context', 0), agent('coder', 'task', 1)],
  created_at: '2026-11-27T05:00:00Z',
  updated_at: '2026-11-27T05:00:00Z',
} as PodInfo

describe('Pods page', () => {
  it('shows each pod with its agents in pipeline order', async () => {
    stubApi(() => [coding])
    renderPage(<PodsPage />, { path: '/pods' })

    const pipeline = await screen.findByRole('list', { name: 'coding pipeline' })
    expect(within(pipeline).getAllByRole('listitem').map((li) => li.textContent?.replace('→', ''))).toEqual([
      'context',
      'coder (task)',
      'reviewer (code_review)',
    ])
    expect(screen.getByText('default')).toBeTruthy()
  })

  it('reorders agents and saves the whole pipeline with their positions', async () => {
    const calls = stubApi((call) => (call.method === 'PATCH' ? coding : [coding]))
    renderPage(<PodsPage />, { path: '/pods' })

    await userEvent.click(await screen.findByRole('button', { name: 'Edit coding' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit coding' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Move reviewer up' }))
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save pod' }))

    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true))
    const body = calls.find((c) => c.method === 'PATCH')!.body as { agents: { name: string; position: number }[] }
    expect(body.agents.map((a) => [a.name, a.position])).toEqual([
      ['context', 0],
      ['reviewer', 1],
      ['coder', 2],
    ])
  })

  it('creates a pod with a new agent, checking names and JSON first', async () => {
    const calls = stubApi((call) => (call.method === 'POST' ? json({ ...coding, name: 'research' }, 201) : []))
    renderPage(<PodsPage />, { path: '/pods' })
    await screen.findByText('No pods yet')

    await userEvent.click(screen.getByRole('button', { name: 'New pod' }))
    const dialog = screen.getByRole('dialog', { name: 'New pod' })
    await userEvent.type(within(dialog).getByLabelText('Name'), '-bad name')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add agent' }))
    await userEvent.type(within(dialog).getByLabelText('Output schema (JSON, optional)'), '{{not json')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create pod' }))

    expect(within(dialog).getByText(/starting with a letter or digit/)).toBeTruthy()
    expect(within(dialog).getByText('Agent 1 needs a name.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)

    await userEvent.clear(within(dialog).getByLabelText('Name'))
    await userEvent.type(within(dialog).getByLabelText('Name'), 'research')
    await userEvent.type(within(dialog).getByLabelText('Agent name'), 'searcher')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create pod' }))
    expect(within(dialog).getByText(/not valid JSON/)).toBeTruthy()

    await userEvent.clear(within(dialog).getByLabelText('Output schema (JSON, optional)'))
    await userEvent.selectOptions(within(dialog).getByLabelText('Runs'), 'has_tag')
    await userEvent.type(within(dialog).getByLabelText('Tag'), 'research')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create pod' }))

    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true))
    expect(calls.find((c) => c.method === 'POST')?.body).toMatchObject({
      name: 'research',
      agents: [{ name: 'searcher', role: 'task', position: 0, run_condition: { type: 'has_tag', value: 'research' }, output_schema: null }],
    })
  })

  it("disables a pod and shows the server's refusal to delete one", async () => {
    let pods = [coding]
    const calls = stubApi((call) => {
      if (call.method === 'PATCH') {
        pods = [{ ...coding, enabled: false }]
        return pods[0]
      }
      if (call.method === 'DELETE') return json({ detail: 'the default pod cannot be deleted' }, 409)
      return pods
    })
    renderPage(<PodsPage />, { path: '/pods' })

    await userEvent.click(await screen.findByRole('button', { name: 'Disable' }))
    expect(await screen.findByText('disabled')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ enabled: false })

    await userEvent.click(screen.getByRole('button', { name: 'Delete coding' }))
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete pod' }))
    expect(await screen.findByText('the default pod cannot be deleted')).toBeTruthy()
  })
})
