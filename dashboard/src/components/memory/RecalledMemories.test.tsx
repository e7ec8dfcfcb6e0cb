import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router'
import { describe, expect, it } from 'vitest'

import type { StoredChatMessage } from '../../api/chat'
import { MessageList } from '../chat/MessageList'
import { recallFromMeta } from './RecalledMemories'

function reply(metadata: Record<string, unknown>): StoredChatMessage[] {
  return [
    { id: 'u-1', role: 'user', content: 'Where do I live?', metadata: {}, created_at: '2026-11-27T05:00:00Z' },
    { id: 'a-1', role: 'assistant', content: 'In Lisbon.', metadata, created_at: '2026-11-27T05:00:01Z' },
  ]
}

function renderMessages(messages: StoredChatMessage[], pending: Parameters<typeof MessageList>[0]['pending'] = null) {
  return render(
    <MemoryRouter>
      <MessageList messages={messages} pending={pending} assistantName="Orion" />
    </MemoryRouter>,
  )
}

describe('why a memory was recalled, in chat', () => {
  it('explains each recalled memory of a reply: its scores and the source it came from', async () => {
    renderMessages(
      reply({
        memory_tokens: 42,
        recalled: [
          {
            id: 'm-1',
            tier: 'semantic',
            content: 'The user lives in Lisbon',
            score: 0.8123,
            vector_score: 0.7,
            keyword_score: 0.5,
            source_id: 's-fix',
            source: { kind: 'correction', title: 'Profile correction' },
          },
          { id: 'm-2', tier: 'episodic', content: 'Moved last month', score: 0.4, source: { kind: 'feed', title: 'News', uri: 'https://example.org/n' } },
          { id: 'm-3', content: 'No source here' },
        ],
      }),
    )

    await userEvent.click(screen.getByText('Recalled 3 memories'))

    const list = screen.getByRole('list', { name: 'Why these memories were recalled' })
    const [first, second, third] = within(list).getAllByRole('listitem')
    expect(first!.textContent).toContain('match 0.812')
    expect(first!.textContent).toContain('meaning 0.700')
    expect(first!.textContent).toContain('keywords 0.500')
    expect(within(first!).getByRole('link', { name: 'correction · Profile correction' }).getAttribute('href')).toBe(
      '/memory?view=sources&source=s-fix',
    )
    expect(within(second!).getByRole('link', { name: 'News' }).getAttribute('href')).toBe('https://example.org/n')
    expect(within(third!).getByText('source unknown')).toBeTruthy()
    expect(screen.getByText('· 42 tokens')).toBeTruthy()
  })

  it('shows how many memories a turn recalled when the server sends only the count', async () => {
    renderMessages([], {
      user: 'Where do I live?',
      assistant: 'In Lis',
      status: null,
      userMessageId: null,
      streaming: true,
      stopped: false,
      recall: recallFromMeta({ memories: 2, memory_tokens: 30 }),
    })

    await userEvent.click(screen.getByText('Recalled 2 memories'))

    expect(screen.getByText(/only how many were recalled/)).toBeTruthy()
  })

  it('says nothing about memory for a reply that recalled none, and skips malformed entries', () => {
    renderMessages(reply({ steps: [], input_tokens: 10 }))
    expect(screen.queryByTestId('recalled-memories')).toBeNull()

    expect(recallFromMeta({ recalled: [{ id: 7 }, 'x', null, { id: 'm-1', score: 'high' }] })).toEqual({
      count: 1,
      tokens: null,
      items: [
        {
          id: 'm-1',
          tier: undefined,
          content: undefined,
          score: null,
          vector_score: null,
          keyword_score: null,
          confidence: null,
          source_id: null,
          source: null,
        },
      ],
    })
  })
})
