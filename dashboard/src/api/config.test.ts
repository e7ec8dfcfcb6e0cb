import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { configApi, providerKeyEntry, type ConfigEntry } from './config'

describe('provider keys', () => {
  it('sets a key through its secret setting and gets back only the mask', async () => {
    const calls = stubApi(() => ({ key: 'llm.api_key.claude-max', value: '••••1a2b', is_secret: true, is_set: true }))

    const saved = await configApi.setProviderKey('claude-max', 'sk-ant-oat01-secret1a2b')

    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([['PATCH', '/api/v1/config/llm.api_key.claude-max', { value: 'sk-ant-oat01-secret1a2b' }]])
    expect(saved.value).toBe('••••1a2b')
  })

  it('removes a key with a null value', async () => {
    const calls = stubApi(() => ({ key: 'llm.api_key.groq', value: null, is_secret: true, is_set: true }))

    await configApi.setProviderKey('groq', null)

    expect(calls[0]?.body).toEqual({ value: null })
  })

  it("turns the orchestrator's refusal into an error carrying its detail", async () => {
    stubApi(() => json({ detail: 'llm.api_key.groq: send the secret itself, not its masked form' }, 400))

    await expect(configApi.setProviderKey('groq', '••••1a2b')).rejects.toMatchObject({
      status: 400,
      detail: 'llm.api_key.groq: send the secret itself, not its masked form',
    })
  })

  it("finds a provider's key setting only when the orchestrator lists one", () => {
    const entries: ConfigEntry[] = [
      { key: 'llm.api_key.openai', value: '••••wxyz', is_secret: true, is_set: true },
      { key: 'nova.name', value: 'Nova', is_secret: false, is_set: false },
    ]

    expect(providerKeyEntry(entries, 'openai')?.value).toBe('••••wxyz')
    expect(providerKeyEntry(entries, 'local')).toBeUndefined()
    expect(providerKeyEntry(undefined, 'openai')).toBeUndefined()
  })
})
