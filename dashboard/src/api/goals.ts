import { queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type Goal = OrchestratorSchemas['Goal']
export type GoalCreate = OrchestratorSchemas['GoalCreate']
export type GoalUpdate = OrchestratorSchemas['GoalUpdate']
export type GoalStatus = OrchestratorSchemas['GoalStatus']
export type GoalStats = OrchestratorSchemas['GoalStats']
export type GoalIteration = OrchestratorSchemas['GoalIteration']
export type GoalTask = OrchestratorSchemas['GoalTask']
export type Reflection = OrchestratorSchemas['Reflection']
export type Comment = OrchestratorSchemas['Comment']
export type SchedulePreview = OrchestratorSchemas['SchedulePreview']
export type MaturationStage = OrchestratorSchemas['MaturationStage']

/** The track a goal judged complex walks, in order (nova_contracts.goals.MaturationStage). */
export const MATURATION_STAGES: MaturationStage[] = ['triage', 'scoping', 'speccing', 'review', 'building', 'verifying', 'done']

/** How many goals the page lists; the API caps a page at 200. */
export const GOALS_PAGE = 200

const BASE = '/api/v1/goals'
const goal = (id: string) => `${BASE}/${encodeURIComponent(id)}`

export const goalQueries = {
  all: ['goals'] as const,

  list: (status?: GoalStatus) =>
    queryOptions({
      queryKey: [...goalQueries.all, 'list', status ?? 'any'] as const,
      queryFn: ({ signal }) => apiFetch<Goal[]>(`${BASE}${queryString({ status, limit: GOALS_PAGE })}`, { signal }),
      // cortex moves goals on its own (progress, next run, cost); a slow poll keeps the list honest.
      refetchInterval: 15_000,
    }),

  stats: () =>
    queryOptions({
      queryKey: [...goalQueries.all, 'stats'] as const,
      queryFn: ({ signal }) => apiFetch<GoalStats>(`${BASE}/stats`, { signal }),
      refetchInterval: 15_000,
    }),

  detail: (id: string) =>
    queryOptions({
      queryKey: [...goalQueries.all, 'goal', id] as const,
      queryFn: ({ signal }) => apiFetch<Goal>(goal(id), { signal }),
      refetchInterval: 10_000,
    }),

  iterations: (id: string) =>
    queryOptions({
      queryKey: [...goalQueries.all, 'goal', id, 'iterations'] as const,
      queryFn: ({ signal }) => apiFetch<GoalIteration[]>(`${goal(id)}/iterations${queryString({ limit: 50 })}`, { signal }),
      refetchInterval: 10_000,
    }),

  tasks: (id: string) =>
    queryOptions({
      queryKey: [...goalQueries.all, 'goal', id, 'tasks'] as const,
      queryFn: ({ signal }) => apiFetch<GoalTask[]>(`${goal(id)}/tasks${queryString({ limit: 50 })}`, { signal }),
      refetchInterval: 10_000,
    }),

  reflections: (id: string) =>
    queryOptions({
      queryKey: [...goalQueries.all, 'goal', id, 'reflections'] as const,
      queryFn: ({ signal }) => apiFetch<Reflection[]>(`${goal(id)}/reflections${queryString({ limit: 50 })}`, { signal }),
    }),

  comments: (id: string) =>
    queryOptions({
      queryKey: [...goalQueries.all, 'goal', id, 'comments'] as const,
      queryFn: ({ signal }) => apiFetch<Comment[]>(`${goal(id)}/comments${queryString({ limit: 200 })}`, { signal }),
    }),

  /** A cron expression in words with its next three runs; the server answers 400 for one it cannot read. */
  schedulePreview: (cron: string) =>
    queryOptions({
      queryKey: [...goalQueries.all, 'schedule-preview', cron] as const,
      queryFn: ({ signal }) => apiFetch<SchedulePreview>(`${BASE}/schedule-preview${queryString({ cron })}`, { signal }),
      staleTime: 60_000,
      retry: false,
    }),
}

export const goalsApi = {
  create: (body: GoalCreate) => apiFetch<Goal>(BASE, { method: 'POST', json: body }),
  update: (id: string, body: GoalUpdate) => apiFetch<Goal>(goal(id), { method: 'PATCH', json: body }),
  remove: (id: string) => apiFetch<void>(goal(id), { method: 'DELETE' }),
  /** Ask cortex to work on the goal on its next cycle (202). */
  trigger: (id: string) => apiFetch<Goal>(`${goal(id)}/trigger`, { method: 'POST' }),
  comment: (id: string, body: string) => apiFetch<Comment>(`${goal(id)}/comments`, { method: 'POST', json: { body } }),
  approveSpec: (id: string) => apiFetch<Goal>(`${goal(id)}/approve-spec`, { method: 'POST' }),
  rejectSpec: (id: string, feedback: string) => apiFetch<Goal>(`${goal(id)}/reject-spec`, { method: 'POST', json: { feedback } }),
}
