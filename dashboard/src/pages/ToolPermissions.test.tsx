import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { ToolGroupInfo } from '../api/tools'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as ToolsPage } from './ToolPermissions'

function catalog(groups: Record<string, boolean>): ToolGroupInfo[] {
  return [
    {
      name: 'files',
      description: 'List, read, write and search files in the sandbox',
      enabled: groups.files!,
      tools: [{ name: 'read_file', description: 'Read a file', group: 'files', parameters: {}, enabled: groups.files! }],
    },
    {
      name: 'shell',
      description: 'Run shell commands in a jail over the sandbox',
      enabled: groups.shell!,
      tools: [{ name: 'run_command', description: 'Run a command', group: 'shell', parameters: {}, enabled: groups.shell! }],
    },
    {
      name: 'mcp:echo',
      description: 'Tools of the MCP server echo',
      enabled: true,
      tools: [{ name: 'mcp__echo__echo', description: 'Echo', group: 'mcp:echo', parameters: {}, enabled: true }],
    },
  ]
}

/** The orchestrator's tool routes over permissions kept in memory; `refuse` answers every PATCH with it. */
function api(refuse?: Response) {
  let groups: Record<string, boolean> = { files: true, shell: false }
  return stubApi((call) => {
    if (call.url === '/api/v1/tools') return catalog(groups)
    if (call.url === '/api/v1/tool-permissions' && call.method === 'GET') return { groups }
    if (call.url === '/api/v1/tool-permissions' && call.method === 'PATCH') {
      if (refuse) return refuse
      groups = { ...groups, ...(call.body as { groups: Record<string, boolean> }).groups }
      return { groups }
    }
    return notFound(call)
  })
}

describe('Tools page', () => {
  it('lists each group with its tools and whether it is on; MCP servers are managed elsewhere', async () => {
    api()
    renderPage(<ToolsPage />, { path: '/tools' })

    const files = await screen.findByRole('region', { name: 'files' })
    expect(within(files).getByText('read_file')).toBeTruthy()
    expect((within(files).getByRole('switch', { name: 'files tools enabled' }) as HTMLInputElement).checked).toBe(true)
    const shell = screen.getByRole('region', { name: 'shell' })
    expect((within(shell).getByRole('switch', { name: 'shell tools enabled' }) as HTMLInputElement).checked).toBe(false)
    const mcp = screen.getByRole('region', { name: 'mcp:echo' })
    expect(within(mcp).queryByRole('switch')).toBeNull()
    expect(within(mcp).getByRole('link', { name: 'MCP page' }).getAttribute('href')).toBe('/mcp')
  })

  it('switches a group on with the admin-only PATCH and shows the new state', async () => {
    const calls = api()
    renderPage(<ToolsPage />, { path: '/tools' })
    const shell = await screen.findByRole('region', { name: 'shell' })

    await userEvent.click(within(shell).getByRole('switch', { name: 'shell tools enabled' }))

    expect(await screen.findByText('shell tools switched on')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ groups: { shell: true } })
    await waitFor(() => expect((within(shell).getByRole('switch', { name: 'shell tools enabled' }) as HTMLInputElement).checked).toBe(true))
  })

  it('leaves the group as it was when the change is refused', async () => {
    api(json({ detail: 'unknown tool group(s): shell' }, 400))
    renderPage(<ToolsPage />, { path: '/tools' })
    const shell = await screen.findByRole('region', { name: 'shell' })

    await userEvent.click(within(shell).getByRole('switch', { name: 'shell tools enabled' }))

    await waitFor(() => expect((within(shell).getByRole('switch', { name: 'shell tools enabled' }) as HTMLInputElement).checked).toBe(false))
  })
})
