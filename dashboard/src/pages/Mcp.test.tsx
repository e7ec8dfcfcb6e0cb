import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { McpCatalogEntry, McpServerInfo } from '../api/mcp'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as McpPage, parseEnv } from './Mcp'

const echo: McpServerInfo = {
  id: 'srv-1',
  name: 'echo',
  description: 'Echo tools',
  transport: 'stdio',
  command: 'python',
  args: ['tool_server.py', 'echo'],
  env_keys: [],
  enabled: true,
  state: 'connected',
  tools: [{ name: 'mcp__echo__echo', tool: 'echo', description: 'Return the text' }],
  created_at: '2026-11-27T05:00:00Z',
  updated_at: '2026-11-27T05:00:00Z',
}
const broken: McpServerInfo = {
  ...echo,
  id: 'srv-2',
  name: 'broken',
  state: 'error',
  error: 'process exited with code 1: ModuleNotFoundError: No module named mcp_thing',
  tools: [],
}
const github: McpCatalogEntry = {
  name: 'github',
  title: 'GitHub',
  description: 'Repositories and issues',
  category: 'development',
  package: '@modelcontextprotocol/server-github',
  transport: 'stdio',
  command: 'npx',
  args: ['-y', '@modelcontextprotocol/server-github'],
  required_env: ['GITHUB_PERSONAL_ACCESS_TOKEN'],
}

describe('MCP page', () => {
  it('shows each server with its state, tool count and error', async () => {
    stubApi(() => [echo, broken])
    renderPage(<McpPage />, { path: '/mcp' })

    const list = await screen.findByRole('list', { name: 'MCP servers' })
    const echoCard = within(list).getByRole('article', { name: /echo/ })
    expect(within(echoCard).getByText('connected')).toBeTruthy()
    expect(within(echoCard).getByText('1 tool')).toBeTruthy()
    const brokenCard = within(list).getByRole('article', { name: /broken/ })
    expect(within(brokenCard).getByText('error')).toBeTruthy()
    expect(within(brokenCard).getByText(/No module named mcp_thing/)).toBeTruthy()
  })

  it('registers a custom stdio server with its arguments and environment', async () => {
    let servers: McpServerInfo[] = []
    const calls = stubApi((call) => {
      if (call.method === 'POST') {
        servers = [echo]
        return json(echo, 201)
      }
      return servers
    })
    renderPage(<McpPage />, { path: '/mcp' })
    await screen.findByText('No MCP servers yet')

    await userEvent.click(screen.getByRole('button', { name: 'Add custom server' }))
    const dialog = screen.getByRole('dialog', { name: 'Add custom server' })
    await userEvent.type(within(dialog).getByLabelText('Name'), 'echo')
    await userEvent.type(within(dialog).getByLabelText('Command'), 'python')
    await userEvent.type(within(dialog).getByLabelText('Arguments'), 'tool_server.py{Enter}echo')
    await userEvent.type(within(dialog).getByLabelText('Environment'), 'TOKEN=abc=def')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add server' }))

    expect(await screen.findByRole('article', { name: /echo/ })).toBeTruthy()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'echo',
      description: '',
      transport: 'stdio',
      command: 'python',
      args: ['tool_server.py', 'echo'],
      url: null,
      env: { TOKEN: 'abc=def' },
      enabled: true,
      metadata: {},
    })
  })

  it('checks the name and target before sending', async () => {
    const calls = stubApi(() => [])
    renderPage(<McpPage />, { path: '/mcp' })
    await screen.findByText('No MCP servers yet')

    await userEvent.click(screen.getByRole('button', { name: 'Add custom server' }))
    const dialog = screen.getByRole('dialog')
    await userEvent.type(within(dialog).getByLabelText('Name'), 'My Server')
    await userEvent.click(within(dialog).getByLabelText('URL (streamable HTTP)'))
    await userEvent.type(within(dialog).getByLabelText('URL'), 'ftp://nope')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add server' }))

    expect(within(dialog).getByText(/Lower-case letters/)).toBeTruthy()
    expect(within(dialog).getByText('An http:// or https:// URL.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
  })

  it('adds a catalog server only once its required environment is filled in', async () => {
    const calls = stubApi((call) => {
      if (call.url.endsWith('/catalog')) return [github]
      if (call.method === 'POST') return json({ detail: 'an MCP server named "github" already exists' }, 409)
      return []
    })
    renderPage(<McpPage />, { path: '/mcp' })
    await screen.findByText('No MCP servers yet')

    await userEvent.click(screen.getByRole('button', { name: 'Add from catalog' }))
    await userEvent.click(await screen.findByRole('button', { name: /GitHub/ }))
    const dialog = screen.getByRole('dialog', { name: 'Add GitHub' })
    expect((within(dialog).getByLabelText('Command') as HTMLInputElement).value).toBe('npx')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add server' }))
    expect(within(dialog).getByText('Fill in GITHUB_PERSONAL_ACCESS_TOKEN.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)

    await userEvent.type(within(dialog).getByLabelText('Environment'), 'ghp_123')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add server' }))

    expect(await within(dialog).findByText('an MCP server named "github" already exists')).toBeTruthy()
    expect(calls.find((c) => c.method === 'POST')?.body).toMatchObject({
      name: 'github',
      env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_123' },
      metadata: { catalog: 'github' },
    })
  })

  it('reloads, disables and removes a server', async () => {
    let servers = [echo]
    const calls = stubApi((call) => {
      if (call.url.endsWith('/reload')) return echo
      if (call.method === 'PATCH') {
        servers = [{ ...echo, enabled: false, state: 'disabled' }]
        return servers[0]
      }
      if (call.method === 'DELETE') {
        servers = []
        return json(null, 204)
      }
      if (call.url === '/api/v1/mcp-servers') return servers
      return notFound(call)
    })
    renderPage(<McpPage />, { path: '/mcp' })

    await userEvent.click(await screen.findByRole('button', { name: 'Reload echo' }))
    expect(await screen.findByText('echo reloaded: 1 tools')).toBeTruthy()

    await userEvent.click(screen.getByRole('button', { name: 'Disable' }))
    expect(await screen.findByText('disabled')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ enabled: false })

    await userEvent.click(screen.getByRole('button', { name: 'Remove echo' }))
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Remove server' }))
    await waitFor(() => expect(screen.getByText('No MCP servers yet')).toBeTruthy())
  })
})

describe('parseEnv', () => {
  it('reads KEY=value lines and refuses a line without a valid key', () => {
    expect(parseEnv('A=1\n\n B_2 = x=y ')).toEqual({ env: { A: '1', B_2: ' x=y' } })
    expect(parseEnv('A=1\n2BAD=x')).toEqual({ error: 'Line 2: write KEY=value (letters, digits and _ in the key).' })
  })
})
