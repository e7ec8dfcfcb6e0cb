import { QueryClientProvider, useMutation, useQuery } from '@tanstack/react-query'
import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import type { ReactElement } from 'react'
import { describe, expect, it } from 'vitest'

import { apiFetch } from './api/client'
import { Toaster } from './components/Toaster'
import { createQueryClient } from './queryClient'
import { json, stubApi } from './test/fetch'

function Action({ toastErrors = true }: { toastErrors?: boolean }) {
  const action = useMutation({ mutationFn: () => apiFetch('/api/v1/thing', { method: 'POST' }), meta: { errorToast: toastErrors } })
  return (
    <button type="button" onClick={() => action.mutate()}>
      act
    </button>
  )
}

function renderWithAppClient(ui: ReactElement) {
  return render(
    <QueryClientProvider client={createQueryClient()}>
      {ui}
      <Toaster />
    </QueryClientProvider>,
  )
}

describe('the app query client', () => {
  it("toasts a failed action with the server's detail", async () => {
    stubApi(() => json({ detail: 'pod "coding" is in use' }, 409))
    renderWithAppClient(<Action />)

    await userEvent.click(screen.getByRole('button', { name: 'act' }))

    expect((await screen.findByRole('alert')).textContent).toContain('pod "coding" is in use')
  })

  it('leaves a refusal to the form that shows it, and a 401 to the secret prompt', async () => {
    const calls = stubApi(() => json({ detail: 'name taken' }, 409))
    const { unmount } = renderWithAppClient(<Action toastErrors={false} />)
    await userEvent.click(screen.getByRole('button', { name: 'act' }))
    await waitFor(() => expect(calls).toHaveLength(1))
    unmount()

    stubApi(() => json({ detail: 'invalid admin secret' }, 401))
    renderWithAppClient(<Action />)
    await userEvent.click(screen.getByRole('button', { name: 'act' }))

    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(screen.queryByRole('alert')).toBeNull()
  })

  it('does not retry a 4xx', async () => {
    const calls = stubApi(() => json({ detail: 'not found' }, 404))
    function Probe() {
      const query = useQuery({ queryKey: ['probe'], queryFn: () => apiFetch('/api/v1/missing') })
      return <p>{query.isError ? 'failed' : 'loading'}</p>
    }
    renderWithAppClient(<Probe />)

    expect(await screen.findByText('failed')).toBeTruthy()
    expect(calls).toHaveLength(1)
  })
})
