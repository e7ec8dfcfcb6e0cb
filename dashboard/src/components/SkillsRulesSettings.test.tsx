import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { RuleInfo, SkillInfo } from '../api/skills'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { SkillsRulesSettings } from './SkillsRulesSettings'

const at = '2026-12-04T22:00:00Z'
const reviewSkill: SkillInfo = {
  id: 's-1',
  name: 'code-review',
  description: 'How we review code',
  content: 'Check tests first.',
  enabled: true,
  created_at: at,
  updated_at: at,
}

/** The orchestrator's skills and rules routes over lists kept in memory. */
function api() {
  let skills: SkillInfo[] = [reviewSkill]
  let rules: RuleInfo[] = []
  return stubApi((call) => {
    if (call.url === '/api/v1/skills' && call.method === 'GET') return skills
    if (call.url === '/api/v1/rules' && call.method === 'GET') return rules
    if (call.url === '/api/v1/rules' && call.method === 'POST') {
      const created = { id: 'r-1', created_at: at, updated_at: at, ...(call.body as object) } as RuleInfo
      rules = [created]
      return json(created, 201)
    }
    if (call.url === '/api/v1/skills/s-1' && call.method === 'PATCH') {
      skills = skills.map((s) => ({ ...s, ...(call.body as object) }))
      return skills[0]
    }
    if (call.url === '/api/v1/skills/s-1' && call.method === 'DELETE') {
      skills = []
      return json(null, 204)
    }
    return notFound(call)
  })
}

describe('Skills and rules settings', () => {
  it('creates an enforced rule with its tool and argument patterns', async () => {
    const calls = api()
    renderPage(<SkillsRulesSettings />, { path: '/settings' })
    await screen.findByText('No rules yet')

    await userEvent.click(screen.getByRole('button', { name: 'New rule' }))
    const dialog = screen.getByRole('dialog', { name: 'New rule' })
    await userEvent.type(within(dialog).getByLabelText('Name'), 'no-force-push')
    await userEvent.type(within(dialog).getByLabelText('Rule'), 'Never force-push to main.')
    await userEvent.type(within(dialog).getByLabelText('Tool pattern (optional)'), 'git_.*')
    await userEvent.type(within(dialog).getByLabelText('Argument pattern (optional)'), '--force')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create rule' }))

    const rules = await screen.findByRole('list', { name: 'Rules' })
    expect(within(rules).getByText('no-force-push')).toBeTruthy()
    expect(within(rules).getByText('enforced')).toBeTruthy()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'no-force-push',
      description: 'Never force-push to main.',
      tool_pattern: 'git_.*',
      argument_pattern: '--force',
      enabled: true,
    })
  })

  it('checks the name and the patterns before sending', async () => {
    const calls = api()
    renderPage(<SkillsRulesSettings />, { path: '/settings' })
    await screen.findByText('No rules yet')

    await userEvent.click(screen.getByRole('button', { name: 'New rule' }))
    const dialog = screen.getByRole('dialog', { name: 'New rule' })
    await userEvent.type(within(dialog).getByLabelText('Name'), 'bad/name')
    await userEvent.type(within(dialog).getByLabelText('Tool pattern (optional)'), 'git_(')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create rule' }))

    expect(within(dialog).getByText('Letters, digits, spaces and . _ - only.')).toBeTruthy()
    expect(within(dialog).getByText('Say what the rule forbids or requires.')).toBeTruthy()
    expect(within(dialog).getByText('Not a valid regular expression.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
  })

  it('switches a skill off, edits it and deletes it', async () => {
    const calls = api()
    renderPage(<SkillsRulesSettings />, { path: '/settings' })
    const skills = await screen.findByRole('list', { name: 'Skills' })

    await userEvent.click(within(skills).getByRole('switch', { name: 'code-review enabled' }))
    expect(await within(skills).findByText('off')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ enabled: false })

    await userEvent.click(within(skills).getByRole('button', { name: 'Edit code-review' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit skill “code-review”' })
    await userEvent.clear(within(dialog).getByLabelText('Instructions'))
    await userEvent.type(within(dialog).getByLabelText('Instructions'), 'Read the diff twice.')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save skill' }))
    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH').at(-1)?.body).toMatchObject({ content: 'Read the diff twice.' }))

    await userEvent.click(await within(skills).findByRole('button', { name: 'Delete code-review' }))
    await userEvent.click(within(screen.getByRole('dialog', { name: 'Delete the skill “code-review”?' })).getByRole('button', { name: 'Delete skill' }))
    expect(await screen.findByText('No skills yet')).toBeTruthy()
  })
})
