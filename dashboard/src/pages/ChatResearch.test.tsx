import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as ChatPage } from './Chat'

function answered(): Response {
  const body = 'data: {"delta": "Found it."}\n\ndata: [DONE]\n\n'
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream', 'X-Session-Id': 's-1' } })
}

function api() {
  return stubApi((call) => {
    if (call.url === '/api/v1/identity') return { name: 'Nova', greeting: 'Hi.' }
    if (call.url === '/llm-api/models') return []
    if (call.url.startsWith('/api/v1/conversations?')) return []
    if (call.url === '/api/v1/chat/stream') return answered()
    return notFound(call)
  })
}

const streamBodies = (calls: ReturnType<typeof api>) => calls.filter((c) => c.url === '/api/v1/chat/stream').map((c) => c.body)

describe('Chat research mode', () => {
  it('sends research: true while the Research toggle is on, and nothing extra while it is off', async () => {
    const calls = api()
    renderPage(<ChatPage />, { path: '/' })
    const toggle = await screen.findByRole('button', { name: 'Research' })
    expect(toggle.getAttribute('aria-pressed')).toBe('false')

    await userEvent.type(screen.getByLabelText('Message'), 'Plain question{Enter}')
    await waitFor(() => expect(streamBodies(calls)).toHaveLength(1))
    await screen.findByRole('button', { name: 'Send' })

    await userEvent.click(toggle)
    expect(toggle.getAttribute('aria-pressed')).toBe('true')
    await userEvent.type(screen.getByLabelText('Message'), 'What changed in Python 3.13?{Enter}')
    await waitFor(() => expect(streamBodies(calls)).toHaveLength(2))

    expect(streamBodies(calls)[0]).not.toHaveProperty('research')
    expect(streamBodies(calls)[1]).toMatchObject({ message: 'What changed in Python 3.13?', research: true })
  })
})
