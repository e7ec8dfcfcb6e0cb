import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { adminApi } from './admin'
import { ADMIN_SECRET_STORAGE_KEY, setAdminSecret } from './client'

const OLD = 'old-secret-0123456789'
const NEW = 'new-secret-abcdefghijkl'

describe('adminApi.rotateSecret', () => {
  it('sends the new secret with the current one and then stores the new one', async () => {
    setAdminSecret(OLD)
    const calls = stubApi(() => ({ rotated_at: '2026-11-27T05:00:00Z' }))

    await expect(adminApi.rotateSecret(NEW)).resolves.toMatchObject({ rotated_at: '2026-11-27T05:00:00Z' })

    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ method: 'PUT', url: '/api/v1/admin/secret', body: { new_secret: NEW } })
    expect(calls[0]!.headers.get('X-Admin-Secret')).toBe(OLD)
    expect(localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)).toBe(NEW)
  })

  it("keeps the current secret when the server refuses, with the server's reason", async () => {
    setAdminSecret(OLD)
    stubApi(() => json({ detail: 'new_secret must be at least 16 characters and not a default' }, 400))

    await expect(adminApi.rotateSecret('nova-admin-secret-change-me')).rejects.toMatchObject({
      status: 400,
      detail: 'new_secret must be at least 16 characters and not a default',
    })
    expect(localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)).toBe(OLD)
  })
})
