import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { FrictionInfo } from '../api/friction'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { FrictionReportButton } from './FrictionReport'

const filed: FrictionInfo = {
  id: 'f-1',
  text: 'The chart is empty',
  page: '/usage?days=7',
  status: 'open',
  has_screenshot: true,
  owner: 'admin',
  created_at: '2026-12-04T22:00:00Z',
  updated_at: '2026-12-04T22:00:00Z',
}

// The smallest PNG there is: a browser would have captured or pasted a real one.
const PNG = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='), (c) => c.charCodeAt(0))

describe('Something went wrong here', () => {
  // jsdom has no 2D canvas (it says so on the console); a browser without one is what it stands for here.
  beforeEach(() => {
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null)
  })

  it('files the text, the page it was pressed on and an attached image', async () => {
    const calls = stubApi((call) => (call.method === 'POST' && call.url === '/api/v1/friction' ? json(filed, 201) : notFound(call)))
    renderPage(<FrictionReportButton />, { path: '/usage?days=7' })

    await userEvent.click(screen.getByRole('button', { name: 'Something went wrong here' }))
    const dialog = await screen.findByRole('dialog', { name: 'Something went wrong here' })
    // jsdom draws nothing: the report says so and still takes an image from a file.
    expect(within(dialog).getByText(/could not be captured/)).toBeTruthy()
    expect(within(dialog).getByText('/usage?days=7')).toBeTruthy()

    await userEvent.type(within(dialog).getByLabelText('What went wrong?'), 'The chart is empty')
    await userEvent.upload(within(dialog).getByLabelText('Attach an image'), new File([PNG], 'shot.png', { type: 'image/png' }))
    expect(await within(dialog).findByAltText('Screenshot attached to the report')).toBeTruthy()
    await userEvent.click(within(dialog).getByRole('button', { name: 'Send report' }))

    expect(await screen.findByText('Thanks: the report is filed under Friction.')).toBeTruthy()
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    const body = calls.find((c) => c.method === 'POST')?.body as Record<string, string>
    expect(body.text).toBe('The chart is empty')
    expect(body.page).toBe('/usage?days=7')
    expect(body.screenshot).toMatch(/^data:image\/png;base64,iVBOR/)
  })

  it('asks for the text before sending and refuses an image type the API does not take', async () => {
    const calls = stubApi(notFound)
    renderPage(<FrictionReportButton />, { path: '/keys' })
    await userEvent.click(screen.getByRole('button', { name: 'Something went wrong here' }))
    const dialog = await screen.findByRole('dialog', { name: 'Something went wrong here' })

    await userEvent.upload(within(dialog).getByLabelText('Attach an image'), new File(['GIF89a'], 'anim.gif', { type: 'image/gif' }), {
      applyAccept: false,
    })
    expect(await within(dialog).findByText('Use a PNG, JPEG or WebP image.')).toBeTruthy()
    await userEvent.click(within(dialog).getByRole('button', { name: 'Send report' }))

    expect(within(dialog).getByText('Say what went wrong, or what you expected instead.')).toBeTruthy()
    expect(calls).toHaveLength(0)
  })

  it("shows the server's refusal and keeps the report open", async () => {
    stubApi(() => json({ detail: 'screenshot: String should match pattern' }, 422))
    renderPage(<FrictionReportButton />, { path: '/' })
    await userEvent.click(screen.getByRole('button', { name: 'Something went wrong here' }))
    const dialog = await screen.findByRole('dialog', { name: 'Something went wrong here' })
    await userEvent.type(within(dialog).getByLabelText('What went wrong?'), 'Send does nothing')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Send report' }))

    expect(await within(dialog).findByText('screenshot: String should match pattern')).toBeTruthy()
    expect((within(dialog).getByLabelText('What went wrong?') as HTMLTextAreaElement).value).toBe('Send does nothing')
  })
})
