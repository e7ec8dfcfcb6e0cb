import { describe, expect, it } from 'vitest'

import { stubApi } from '../test/fetch'
import { watchProvider, type ProviderStatus } from './models'

function groq(available: boolean): ProviderStatus[] {
  return [
    { slug: 'local', name: 'Local', type: 'local', available: true },
    { slug: 'groq', name: 'Groq', type: 'free', available, reason: available ? null : 'GROQ_API_KEY is not set' },
  ]
}

describe('watchProvider', () => {
  it('asks discover until the provider reports the wanted availability', async () => {
    const answers = [groq(false), groq(false), groq(true), groq(true)]
    const calls = stubApi(() => answers.shift())
    const seen: boolean[] = []

    const last = await watchProvider('groq', true, { intervalMs: 0, onStatuses: (s) => seen.push(s[1]!.available) })

    expect(last?.available).toBe(true)
    expect(seen).toEqual([false, false, true])
    expect(calls.map((c) => c.url)).toEqual(['/v1/models/discover', '/v1/models/discover', '/v1/models/discover'])
  })

  it('gives up after its attempts and returns the last status with its reason', async () => {
    const calls = stubApi(() => groq(false))

    const last = await watchProvider('groq', true, { attempts: 3, intervalMs: 0 })

    expect(last).toMatchObject({ available: false, reason: 'GROQ_API_KEY is not set' })
    expect(calls).toHaveLength(3)
  })

  it('stops when aborted', async () => {
    stubApi(() => groq(false))
    const abort = new AbortController()

    const watching = watchProvider('groq', true, { intervalMs: 60_000, signal: abort.signal })
    abort.abort(new Error('page left'))

    await expect(watching).rejects.toThrow('page left')
  })
})
