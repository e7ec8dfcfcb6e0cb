import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Route, Routes, useLocation } from 'react-router'
import { describe, expect, it } from 'vitest'

import type { ConversationDetail, ConversationSummary } from '../api/chat'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as ChatPage } from './Chat'

const identity = { name: 'Orion', greeting: "Hello! I'm Orion." }

/** An SSE body whose events the test releases one at a time. */
function controlledStream() {
  const encoder = new TextEncoder()
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
  })
  return {
    response: new Response(stream, { headers: { 'Content-Type': 'text/event-stream', 'X-Session-Id': 's-1' } }),
    send: (data: unknown) => controller.enqueue(encoder.encode(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)),
    close: () => controller.close(),
  }
}

const summary: ConversationSummary = {
  id: 'c-1',
  session_id: 's-1',
  title: 'What is 2+2?',
  message_count: 2,
  created_at: '2026-11-27T05:00:00Z',
  updated_at: '2026-11-27T05:00:00Z',
}
const detail: ConversationDetail = {
  ...summary,
  messages: [
    { id: 'u-1', role: 'user', content: 'What is 2+2?', metadata: {}, created_at: '2026-11-27T05:00:00Z' },
    { id: 'a-1', role: 'assistant', content: 'It is **4**.', model: 'fake-model', metadata: {}, created_at: '2026-11-27T05:00:01Z' },
  ],
}

const models = [
  { id: 'smollm2-135m', provider: 'local', capabilities: ['chat', 'streaming'], context_window: 4096, max_output_tokens: 4096 },
  { id: 'all-MiniLM-L6-v2', provider: 'local', capabilities: ['embeddings'], context_window: 256, max_output_tokens: 1 },
]

function Location() {
  return <p data-testid="location">{useLocation().search}</p>
}

function renderChat(path = '/') {
  return renderPage(
    <Routes>
      <Route
        path="/"
        element={
          <>
            <ChatPage />
            <Location />
          </>
        }
      />
    </Routes>,
    { path },
  )
}

function api(overrides: (call: Call) => unknown = () => undefined) {
  let stored = false
  return stubApi((call) => {
    const answer = overrides(call)
    if (answer !== undefined) return answer
    if (call.url === '/api/v1/identity') return identity
    if (call.url === '/llm-api/models') return models
    if (call.url.startsWith('/api/v1/conversations?')) return stored ? [summary] : []
    if (call.url === '/api/v1/conversations/c-1') {
      stored = true
      return detail
    }
    return notFound(call)
  })
}

describe('Chat page', () => {
  it("greets with the identity's name and greeting", async () => {
    api()
    renderChat()

    expect(await screen.findByText("Hello! I'm Orion.")).toBeTruthy()
    expect(screen.getByTestId('assistant-name').textContent).toBe('Orion')
    expect(screen.getByPlaceholderText('Message Orion…')).toBeTruthy()
  })

  it('streams the reply as it arrives, then opens the stored conversation', async () => {
    const stream = controlledStream()
    const calls = api((call) => (call.url === '/api/v1/chat/stream' ? stream.response : undefined))
    renderChat()
    await screen.findByText("Hello! I'm Orion.")

    await userEvent.type(screen.getByLabelText('Message'), 'What is 2+2?{Enter}')

    expect(await screen.findByText('What is 2+2?')).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Stop' })).toBeTruthy()
    stream.send({ meta: { conversation_id: 'c-1', session_id: 's-1', user_message_id: 'u-1' } })
    stream.send({ delta: 'It is ' })
    expect(await screen.findByText(/It is/)).toBeTruthy()
    stream.send({ delta: '**4**.' })
    stream.send('[DONE]')
    stream.close()

    await waitFor(() => expect(screen.getByTestId('location').textContent).toBe('?c=c-1'))
    const messages = screen.getByRole('list', { name: 'Messages' })
    expect(within(messages).getAllByText('What is 2+2?')).toHaveLength(1)
    expect(await within(messages).findByText('4', {}, { timeout: 5000 })).toBeTruthy() // rendered as Markdown bold
    expect(screen.getByRole('button', { name: 'Send' })).toBeTruthy()
    expect(calls.find((c) => c.url === '/api/v1/chat/stream')?.body).toEqual({ message: 'What is 2+2?', session_id: null, model: null })
  })

  it('says which memories the streaming turn recalled, and why, before the answer is stored', async () => {
    const stream = controlledStream()
    api((call) => (call.url === '/api/v1/chat/stream' ? stream.response : undefined))
    renderChat()
    await screen.findByText("Hello! I'm Orion.")
    await userEvent.type(screen.getByLabelText('Message'), 'What is my cat called?{Enter}')

    stream.send({ meta: { conversation_id: 'c-1', session_id: 's-1', user_message_id: 'u-1' } })
    stream.send({
      meta: {
        memories: 1,
        memory_tokens: 12,
        recalled: [{ id: 'm-1', tier: 'episodic', content: 'The cat is called Miso.', score: 0.91, vector_score: 0.8, keyword_score: 0.4 }],
      },
    })
    stream.send({ delta: 'Miso.' })
    const recalled = await screen.findByTestId('recalled-memories')
    expect(within(recalled).getByText('Recalled 1 memory')).toBeTruthy()
    expect(within(recalled).getByText(/The cat is called Miso/)).toBeTruthy()
    stream.send('[DONE]')
    stream.close()
  })

  it('sends the model picked in the switcher, which offers chat models only', async () => {
    const calls = api((call) => (call.url === '/api/v1/chat/stream' ? controlledStream().response : undefined))
    renderChat()
    const switcher = await screen.findByLabelText('Model')
    await screen.findByRole('option', { name: 'smollm2-135m · local' })
    expect(screen.queryByRole('option', { name: /MiniLM/ })).toBeNull()

    await userEvent.selectOptions(switcher, 'smollm2-135m')
    await userEvent.type(screen.getByLabelText('Message'), 'Hi{Enter}')

    await waitFor(() => expect(calls.find((c) => c.url === '/api/v1/chat/stream')?.body).toMatchObject({ model: 'smollm2-135m' }))
    expect(localStorage.getItem('nova.chatModel')).toBe('smollm2-135m')
  })

  it('puts the message back in the box when the server refuses it', async () => {
    api((call) => (call.url === '/api/v1/chat/stream' ? json({ detail: 'no model is available: add a provider key' }, 503) : undefined))
    renderChat()
    await screen.findByText("Hello! I'm Orion.")

    await userEvent.type(screen.getByLabelText('Message'), 'Hello there{Enter}')

    expect(await screen.findByText('no model is available: add a provider key')).toBeTruthy()
    expect((screen.getByLabelText('Message') as HTMLTextAreaElement).value).toBe('Hello there')
  })

  it('shows an error the stream reports after it started', async () => {
    const stream = controlledStream()
    api((call) => (call.url === '/api/v1/chat/stream' ? stream.response : undefined))
    renderChat()
    await screen.findByText("Hello! I'm Orion.")

    await userEvent.type(screen.getByLabelText('Message'), 'Hi{Enter}')
    stream.send({ meta: { conversation_id: 'c-1', user_message_id: 'u-1' } })
    stream.send({ error: 'provider timed out after 120 s' })
    stream.send('[DONE]')
    stream.close()

    expect(await screen.findByText('provider timed out after 120 s')).toBeTruthy()
  })

  it('stops reading the stream when Stop is pressed', async () => {
    const stream = controlledStream()
    stubApi((call) => {
      if (call.url === '/api/v1/identity') return identity
      if (call.url.startsWith('/api/v1/conversations?')) return []
      if (call.url === '/api/v1/conversations/c-1') return detail
      if (call.url === '/api/v1/chat/stream') return stream.response
      return notFound(call)
    })
    renderChat()
    await screen.findByText("Hello! I'm Orion.")

    await userEvent.type(screen.getByLabelText('Message'), 'Write a long essay{Enter}')
    stream.send({ meta: { conversation_id: 'c-1', user_message_id: 'u-9' } })
    stream.send({ delta: 'Once upon' })
    await screen.findByText(/Once upon/)
    await userEvent.click(screen.getByRole('button', { name: 'Stop' }))

    expect(await screen.findByRole('button', { name: 'Send' })).toBeTruthy()
    // Reading stopped: the reader cancelled the body, so the server's next chunk has nowhere to go.
    expect(() => stream.send({ delta: ' a time' })).toThrow()
    expect(screen.queryByText(/a time/)).toBeNull()
  })

  it('keeps an unsent draft across a reload', async () => {
    api()
    const first = renderChat()
    await screen.findByText("Hello! I'm Orion.")
    await userEvent.type(screen.getByLabelText('Message'), 'half a thought')
    first.unmount()

    renderChat()
    await screen.findByText("Hello! I'm Orion.")
    expect((screen.getByLabelText('Message') as HTMLTextAreaElement).value).toBe('half a thought')
  })

  it('renames and deletes a conversation from the list', async () => {
    let conversations = [summary]
    const calls = stubApi((call) => {
      if (call.url === '/api/v1/identity') return identity
      if (call.method === 'PATCH') {
        conversations = [{ ...summary, title: (call.body as { title: string }).title }]
        return conversations[0]
      }
      if (call.method === 'DELETE') {
        conversations = []
        return json(null, 204)
      }
      if (call.url.startsWith('/api/v1/conversations?')) return conversations
      if (call.url === '/api/v1/conversations/c-1') return detail
      return notFound(call)
    })
    renderChat('/?c=c-1')
    const list = await screen.findByRole('navigation', { name: 'Conversations' })

    await userEvent.click(await within(list).findByRole('button', { name: 'Rename What is 2+2?' }))
    const title = within(list).getByLabelText('Conversation title')
    await userEvent.clear(title)
    await userEvent.type(title, 'Arithmetic{Enter}')
    expect(await within(list).findByText('Arithmetic')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ title: 'Arithmetic' })

    await userEvent.click(within(list).getByRole('button', { name: 'Delete Arithmetic' }))
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete conversation' }))
    await waitFor(() => expect(screen.getByTestId('location').textContent).toBe(''))
    expect(await within(list).findByText(/No conversations yet/)).toBeTruthy()
  })

  it('in the Journal, writes to cortex instead of asking the agent', async () => {
    const journal: ConversationDetail = {
      ...detail,
      id: 'c-j',
      session_id: 'nova-journal',
      title: 'Journal',
      messages: [{ id: 'j-1', role: 'assistant', content: 'I summarised 3 pull requests.', model: 'cortex', metadata: {}, created_at: '2026-11-27T05:00:00Z' }],
    }
    const calls = api((call) => {
      if (call.url === '/api/v1/conversations/c-j') return journal
      if (call.url === '/api/v1/journal/messages')
        return json({ id: 'j-2', role: 'user', kind: 'message', content: 'Skip the docs today.', metadata: {}, created_at: '2026-11-27T05:01:00Z' }, 201)
      return undefined
    })
    renderChat('/?c=c-j')

    await screen.findByText('I summarised 3 pull requests.')
    expect(screen.queryByLabelText('Model')).toBeNull()
    await userEvent.type(screen.getByPlaceholderText('Write to cortex; it reads this on its next cycle…'), 'Skip the docs today.{Enter}')

    await waitFor(() => expect(calls.find((c) => c.url === '/api/v1/journal/messages')?.body).toEqual({ content: 'Skip the docs today.' }))
    expect(calls.some((c) => c.url === '/api/v1/chat/stream')).toBe(false)
    await waitFor(() => expect((screen.getByLabelText('Message') as HTMLTextAreaElement).value).toBe(''))
  })
})
