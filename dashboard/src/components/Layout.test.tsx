import { QueryClientProvider, useQuery } from '@tanstack/react-query'
import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { describe, expect, it } from 'vitest'

import { ADMIN_SECRET_STORAGE_KEY, apiFetch } from '../api/client'
import { createQueryClient } from '../queryClient'
import { json, stubApi } from '../test/fetch'
import { Layout } from './Layout'

function KeysProbe() {
  const keys = useQuery({ queryKey: ['probe'], queryFn: () => apiFetch<{ name: string }[]>('/api/v1/keys'), retry: false })
  return <p>{keys.data ? `keys: ${keys.data.map((k) => k.name).join(', ')}` : 'no keys yet'}</p>
}

function renderApp(path = '/keys') {
  const router = createMemoryRouter(
    [{ path: '/', Component: Layout, children: [{ path: 'keys', Component: KeysProbe }, { path: 'memory', element: <p>memory page</p> }] }],
    { initialEntries: [path] },
  )
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
}

describe('Layout', () => {
  it('asks for the admin secret on a 401 and retries with it', async () => {
    const calls = stubApi((call) =>
      call.headers.get('X-Admin-Secret') === 'right-secret-0123456789' ? [{ name: 'ci' }] : json({ detail: 'missing X-Admin-Secret header' }, 401),
    )
    renderApp()

    const dialog = await screen.findByRole('dialog', { name: 'Admin secret' })
    expect(within(dialog).getByText(/missing X-Admin-Secret header/)).toBeTruthy()
    await userEvent.type(within(dialog).getByLabelText('Secret'), 'right-secret-0123456789')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }))

    expect(await screen.findByText('keys: ci')).toBeTruthy()
    expect(localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)).toBe('right-secret-0123456789')
    expect(calls.at(-1)?.headers.get('X-Admin-Secret')).toBe('right-secret-0123456789')
  })

  it('shows a banner instead of reopening the prompt once it was dismissed', async () => {
    stubApi(() => json({ detail: 'invalid admin secret' }, 401))
    renderApp()

    const dialog = await screen.findByRole('dialog', { name: 'Admin secret' })
    await userEvent.keyboard('{Escape}')

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(screen.getByText(/The server refused a request: invalid admin secret/)).toBeTruthy()
    expect(dialog.isConnected).toBe(false)
  })

  it('marks the current page in the sidebar and switches theme', async () => {
    stubApi(() => [])
    renderApp('/memory')

    const nav = screen.getByRole('navigation', { name: 'Main' })
    expect(within(nav).getByRole('link', { name: 'Memory' }).getAttribute('aria-current')).toBe('page')
    expect(within(nav).getByRole('link', { name: 'Chat' }).getAttribute('aria-current')).toBeNull()

    await userEvent.click(screen.getByLabelText('Dark'))
    expect(document.documentElement.classList.contains('dark')).toBe(true)
    await userEvent.click(screen.getByLabelText('Light'))
    expect(document.documentElement.classList.contains('dark')).toBe(false)
    expect(localStorage.getItem('nova.theme')).toBe('light')
  })
})
