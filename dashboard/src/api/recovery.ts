import { queryOptions } from '@tanstack/react-query'

import { apiFetch, apiResponse, queryString } from './client'
import type { components } from './generated/recovery'
import { readServerSentEvents } from './sse'

type Schemas = components['schemas']
export type RecoveryStatus = Schemas['RecoveryStatus']
export type BackupInfo = Schemas['BackupInfo']
export type BackupList = Schemas['BackupList']
export type BackupCreate = Schemas['BackupCreate']
export type ArchiveCheck = Schemas['ArchiveCheck']
export type RestoreReport = Schemas['RestoreReport']
export type ResetCategory = Schemas['ResetCategory']
export type ResetCategories = Schemas['ResetCategories']
export type ResetCategoryName = Schemas['ResetCategoryName']
export type ResetRequest = Schemas['ResetRequest']
export type ResetReport = Schemas['ResetReport']
export type CheckpointSchedule = Schemas['CheckpointSchedule']
export type CheckpointScheduleUpdate = Schemas['CheckpointScheduleUpdate']
export type ManagedServices = Schemas['ManagedServices']
export type ManagedService = Schemas['ManagedService']
export type ServiceAction = Schemas['ServiceAction']
export type ServiceLogs = Schemas['ServiceLogs']
export type EnvView = Schemas['EnvView']
export type EnvEntry = Schemas['EnvEntry']
export type EnvUpdateResult = Schemas['EnvUpdateResult']
export type Hardware = Schemas['Hardware']
export type InferenceRecommendation = Schemas['InferenceRecommendation']
export type BackendState = Schemas['BackendState']

/**
 * One SSE event of `POST /backups` (nova_contracts.recovery.BackupProgress). An event stream's items are not
 * in the OpenAPI document, so the shape is written out here.
 */
export interface BackupProgress {
  phase: 'started' | 'postgres' | 'redis' | 'env' | 'workspace' | 'archive' | 'done' | 'failed'
  bytes_written: number
  tables_done: number
  tables_total: number
  backup?: BackupInfo | null
  detail?: string | null
}

export type InferenceSwitchPhase = Schemas['InferenceSwitchPhase']
export type InferenceSwitchProgress = Schemas['InferenceSwitchProgress']
export type InferenceBackendOption = Schemas['InferenceBackendOption']
export type InferenceBackendStatus = Schemas['InferenceBackendStatus']
export type InferenceSwitchRequest = Schemas['InferenceSwitchRequest']

// recovery's routes sit behind the dashboard's /recovery-api/ prefix (stripped by the proxy).
const BASE = '/recovery-api/api/v1/recovery'
const backup = (name: string) => `${BASE}/backups/${encodeURIComponent(name)}`

/** The word a factory reset must be confirmed with (nova_contracts.recovery.ResetRequest.confirm). */
export const RESET_CONFIRMATION = 'RESET'
/** The optional profiles and their services (nova_common.stack.SERVICES), started and stopped as one. */
export const OPTIONAL_PROFILES: { name: string; title: string; services: string[] }[] = [
  { name: 'bridges', title: 'Chat bridges (Telegram, Slack)', services: ['chat-bridge'] },
  { name: 'knowledge', title: 'Knowledge crawler', services: ['knowledge-worker'] },
  { name: 'voice', title: 'Voice (speech to text, text to speech)', services: ['voice-service'] },
]
/** How many recent log lines the services panel shows. */
export const LOG_LINES = 200

export const recoveryQueries = {
  all: ['recovery'] as const,

  /** Public overview: services ready, database size, backups, the running operation. */
  status: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'status'] as const,
      queryFn: ({ signal }) => apiFetch<RecoveryStatus>(`${BASE}/status`, { signal }),
      refetchInterval: 10_000,
    }),

  backups: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'backups'] as const,
      queryFn: ({ signal }) => apiFetch<BackupList>(`${BASE}/backups${queryString({ limit: 200 })}`, { signal }),
    }),

  /** recovery's pre-check of one archive (manifest, checksums, version); asked afresh each time a restore is considered. */
  check: (name: string) =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'check', name] as const,
      queryFn: ({ signal }) => apiFetch<ArchiveCheck>(`${backup(name)}/check`, { signal }),
      staleTime: 0,
      gcTime: 0,
    }),

  /** What each reset category removes (public: it names no data). */
  resetCategories: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'reset-categories'] as const,
      queryFn: ({ signal }) => apiFetch<ResetCategories>(`${BASE}/reset/categories`, { signal }),
      staleTime: Infinity,
    }),

  checkpoints: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'checkpoints'] as const,
      queryFn: ({ signal }) => apiFetch<CheckpointSchedule>(`${BASE}/checkpoints`, { signal }),
    }),

  managedServices: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'managed-services'] as const,
      queryFn: ({ signal }) => apiFetch<ManagedServices>(`${BASE}/managed-services`, { signal }),
      refetchInterval: 10_000,
    }),

  logs: (name: string) =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'logs', name] as const,
      queryFn: ({ signal }) => apiFetch<ServiceLogs>(`${BASE}/services/${encodeURIComponent(name)}/logs${queryString({ lines: LOG_LINES })}`, { signal }),
    }),

  env: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'env'] as const,
      queryFn: ({ signal }) => apiFetch<EnvView>(`${BASE}/env`, { signal }),
    }),

  hardware: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'hardware'] as const,
      queryFn: ({ signal }) => apiFetch<Hardware>(`${BASE}/inference/hardware`, { signal }),
      staleTime: 60_000,
    }),

  /** The backend the gateway routes local requests to, the last switch, what can be chosen; polled while a switch runs. */
  backend: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'backend'] as const,
      queryFn: ({ signal }) => apiFetch<InferenceBackendStatus>(`${BASE}/inference/backend`, { signal }),
      refetchInterval: (query) => (query.state.data?.switching ? 1_500 : false),
    }),

  recommendation: () =>
    queryOptions({
      queryKey: [...recoveryQueries.all, 'recommendation'] as const,
      queryFn: ({ signal }) => apiFetch<InferenceRecommendation>(`${BASE}/inference/recommendation`, { signal }),
      staleTime: 60_000,
    }),
}

export const recoveryApi = {
  restore: (name: string, restoreEnv = false) =>
    apiFetch<RestoreReport>(`${backup(name)}/restore`, { method: 'POST', json: { restore_env: restoreEnv } }),
  remove: (name: string) => apiFetch<void>(backup(name), { method: 'DELETE' }),
  /** The archive goes as the raw request body; recovery verifies it whole before keeping it. */
  upload: (file: Blob) =>
    apiFetch<BackupInfo>(`${BASE}/backups/upload`, { method: 'POST', body: file, headers: { 'Content-Type': 'application/x-tar' } }),
  download: (name: string) => downloadFile(backup(name), name),
  downloadDiagnostics: () => downloadFile(`${BASE}/diagnostics`, 'nova-diagnostics.json'),
  reset: (body: ResetRequest) => apiFetch<ResetReport>(`${BASE}/reset`, { method: 'POST', json: body }),
  updateCheckpoints: (patch: CheckpointScheduleUpdate) =>
    apiFetch<CheckpointSchedule>(`${BASE}/checkpoints`, { method: 'PATCH', json: patch }),
  startProfile: (profile: string) => apiFetch<ServiceAction>(`${BASE}/profiles/${encodeURIComponent(profile)}/start`, { method: 'POST' }),
  stopProfile: (profile: string) => apiFetch<ServiceAction>(`${BASE}/profiles/${encodeURIComponent(profile)}/stop`, { method: 'POST' }),
  restartService: (name: string) => apiFetch<ServiceAction>(`${BASE}/services/${encodeURIComponent(name)}/restart`, { method: 'POST' }),
  updateEnv: (updates: Record<string, string | null>) =>
    apiFetch<EnvUpdateResult>(`${BASE}/env`, { method: 'PATCH', json: { updates } }),
  startBackend: () => apiFetch<BackendState>(`${BASE}/inference/backend/start`, { method: 'POST' }),
  /** Starts a switch in the background (202); follow it with `recoveryQueries.backend()`. */
  switchBackend: (backend: string, model: string) =>
    apiFetch<InferenceSwitchProgress>(`${BASE}/inference/backend/switch`, { method: 'POST', json: { backend, model } }),
  stopBackend: () => apiFetch<BackendState>(`${BASE}/inference/backend/stop`, { method: 'POST' }),
}

/**
 * Start a backup and report each progress event; resolves with the finished backup. A `failed` event, or a
 * stream that ends without `done`, throws. A 409 (another backup or restore running) throws before any event.
 */
export async function createBackup(
  options: BackupCreate,
  onProgress: (event: BackupProgress) => void,
  signal?: AbortSignal,
): Promise<BackupInfo> {
  const response = await apiResponse(`${BASE}/backups`, { method: 'POST', json: options, signal, headers: { Accept: 'text/event-stream' } })
  if (!response.body) throw new Error('the backup stream has no body')
  for await (const event of readServerSentEvents(response.body, signal)) {
    if (event.data === '[DONE]') break
    const progress = JSON.parse(event.data) as BackupProgress
    onProgress(progress)
    if (progress.phase === 'failed') throw new Error(progress.detail ?? 'the backup failed')
    if (progress.phase === 'done' && progress.backup) return progress.backup
  }
  throw new Error('the backup stream ended before the backup was done')
}

/**
 * Save a response as a file. The routes need the admin secret header, which a plain link cannot send, so the
 * body is fetched and handed to the browser as an object URL; the server's file name wins when it sends one.
 */
async function downloadFile(path: string, fallbackName: string): Promise<string> {
  const response = await apiResponse(path, { headers: { Accept: '*/*' } })
  const disposition = response.headers.get('Content-Disposition') ?? ''
  const name = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1] ?? fallbackName
  const url = URL.createObjectURL(await response.blob())
  const link = document.createElement('a')
  link.href = url
  link.download = decodeURIComponent(name)
  document.body.append(link)
  link.click()
  link.remove()
  // The browser has taken the blob once the click is handled; a later revoke keeps slow browsers safe.
  setTimeout(() => URL.revokeObjectURL(url), 30_000)
  return link.download
}

/** Bytes as people read them: 1.4 MB, 820 kB. */
export function byteSize(bytes: number | null | undefined): string {
  if (bytes == null) return '—'
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit += 1
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}
