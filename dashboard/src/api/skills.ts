import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type SkillInfo = OrchestratorSchemas['SkillInfo']
export type SkillCreate = OrchestratorSchemas['SkillCreate']
export type SkillUpdate = OrchestratorSchemas['SkillUpdate']
export type RuleInfo = OrchestratorSchemas['RuleInfo']
export type RuleCreate = OrchestratorSchemas['RuleCreate']
export type RuleUpdate = OrchestratorSchemas['RuleUpdate']

const skill = (id: string) => `/api/v1/skills/${encodeURIComponent(id)}`
const rule = (id: string) => `/api/v1/rules/${encodeURIComponent(id)}`

export const skillQueries = {
  all: ['skills'] as const,

  skills: () =>
    queryOptions({
      queryKey: [...skillQueries.all, 'skills'] as const,
      queryFn: ({ signal }) => apiFetch<SkillInfo[]>('/api/v1/skills', { signal }),
    }),

  rules: () =>
    queryOptions({
      queryKey: [...skillQueries.all, 'rules'] as const,
      queryFn: ({ signal }) => apiFetch<RuleInfo[]>('/api/v1/rules', { signal }),
    }),
}

export const skillsApi = {
  createSkill: (body: SkillCreate) => apiFetch<SkillInfo>('/api/v1/skills', { method: 'POST', json: body }),
  updateSkill: (id: string, body: SkillUpdate) => apiFetch<SkillInfo>(skill(id), { method: 'PATCH', json: body }),
  removeSkill: (id: string) => apiFetch<void>(skill(id), { method: 'DELETE' }),
  createRule: (body: RuleCreate) => apiFetch<RuleInfo>('/api/v1/rules', { method: 'POST', json: body }),
  updateRule: (id: string, body: RuleUpdate) => apiFetch<RuleInfo>(rule(id), { method: 'PATCH', json: body }),
  removeRule: (id: string) => apiFetch<void>(rule(id), { method: 'DELETE' }),
}
