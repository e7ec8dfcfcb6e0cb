import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import type { ArchiveCheck, BackupInfo, CheckpointSchedule, EnvView, ResetCategory, RestoreReport } from '../api/recovery'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as RecoveryPage } from './Recovery'

const R = '/recovery-api/api/v1/recovery'
const older: BackupInfo = {
  name: 'nova-backup-20261201T100000Z-manual-aaaa.tar',
  size_bytes: 2_400_000,
  created_at: '2026-12-01T10:00:00Z',
  reason: 'manual',
  nova_version: '0.1.0',
  tables: 30,
  rows: 1200,
  redis_keys: 40,
  workspace_files: 3,
  env_included: true,
}
const made: BackupInfo = { ...older, name: 'nova-backup-20261204T220000Z-manual-bbbb.tar', created_at: '2026-12-04T22:00:00Z' }
const categories: ResetCategory[] = [
  { name: 'chat_history', title: 'Chat history', description: 'Dashboard conversations and their messages.', tables: ['messages', 'conversations'], redis: [{ db: 3, pattern: 'nova:chat:*' }], files: [] },
  { name: 'memories', title: 'Memories', description: 'Every memory and fact.', tables: ['memories', 'fact_revisions'], redis: [{ db: 0, pattern: 'nova:memory:*' }], files: [] },
]
const schedule: CheckpointSchedule = { enabled: true, interval_hours: 6, keep_last: 5, keep_daily_days: 7, last_run_at: '2026-12-04T18:00:00Z', next_run_at: '2026-12-05T00:00:00Z' }
const env: EnvView = {
  path: '/srv/nova/.env',
  entries: [
    { key: 'LOG_LEVEL', secret: false, set: true, value: 'INFO', restart: [] },
    { key: 'OPENAI_API_KEY', secret: true, set: true, value: '••••9f2c', restart: ['llm-gateway'] },
  ],
}
const goodCheck: ArchiveCheck = {
  name: older.name,
  ok: true,
  problems: [],
  manifest: {
    format: 'nova-backup',
    format_version: 1,
    id: 'aaaa',
    created_at: older.created_at,
    reason: 'manual',
    nova_version: '0.1.0',
    postgres_server_version: '17',
    pg_dump_version: '17',
    redis_version: '7',
    tables: [
      { name: 'memories', rows: 1000, checksum: 'x' },
      { name: 'api_keys', rows: 200, checksum: 'y' },
    ],
    table_checksum: 'row-binary',
    redis: [{ db: 1, keys: 40, checksum: 'z' }],
    workspace_files: 3,
    env: { included: true, keys: ['OPENAI_API_KEY'] },
    members: [],
  },
}

/** recovery as the page sees it; `extra` answers first, so a test can change one route. */
function api(extra: (call: Call) => unknown = () => undefined) {
  let backups = [older]
  const calls = stubApi((call) => {
    const answer = extra(call)
    if (answer !== undefined) return answer
    if (call.url === `${R}/status`)
      return { services_ready: 4, services_total: 5, database: { connected: true, size_bytes: 12_000_000, tables: 31 }, backups: { count: backups.length, latest_at: backups[0]?.created_at ?? null, total_size_bytes: 2_400_000 }, operation: null }
    if (call.url === `${R}/backups?limit=200` && call.method === 'GET') return { backups, total: backups.length, total_size_bytes: 0 }
    if (call.method === 'DELETE' && call.url.startsWith(`${R}/backups/`)) {
      backups = backups.filter((b) => !call.url.endsWith(encodeURIComponent(b.name)))
      return json(null, 204)
    }
    if (call.url === `${R}/reset/categories`) return { categories }
    if (call.url === `${R}/checkpoints` && call.method === 'GET') return schedule
    if (call.url === `${R}/managed-services`) return { manager: 'launcher', services: [{ name: 'orchestrator', running: true, pid: 4242, restarts: 1 }] }
    if (call.url === `${R}/env` && call.method === 'GET') return env
    return notFound(call)
  })
  return { calls, add: (info: BackupInfo) => (backups = [info, ...backups]) }
}

/** An event stream the test writes to, so progress can be seen before the backup ends. */
function eventStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
  const encoder = new TextEncoder()
  return {
    response: new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }),
    send: (data: unknown) => controller.enqueue(encoder.encode(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)),
    close: () => controller.close(),
  }
}

describe('Recovery page', () => {
  it('shows the overview: services ready, database size and the backups kept', async () => {
    api()
    renderPage(<RecoveryPage />, { path: '/recovery' })

    const figures = await screen.findByLabelText('Recovery overview')
    expect(within(figures).getByText('4 of 5')).toBeTruthy()
    expect(within(figures).getByText('12 MB')).toBeTruthy()
    expect(within(figures).getByText('31 tables')).toBeTruthy()
    expect(within(figures).getByText('1 (2.4 MB)')).toBeTruthy()
  })

  it('streams a backup’s progress (phase, bytes, tables) and lists the new backup when it is done', async () => {
    const stream = eventStream()
    const { calls, add } = api((call) => (call.method === 'POST' && call.url === `${R}/backups` ? stream.response : undefined))
    renderPage(<RecoveryPage />, { path: '/recovery' })

    await userEvent.click(await screen.findByRole('checkbox', { name: 'Include .env keys' }))
    await userEvent.click(screen.getByRole('button', { name: 'Back up now' }))
    stream.send({ phase: 'postgres', bytes_written: 1_500_000, tables_done: 3, tables_total: 10 })

    const progress = await screen.findByRole('status', { name: 'Backup progress' })
    await waitFor(() => expect(progress.textContent).toContain('Dumping the database'))
    expect(progress.textContent).toContain('1.5 MB written, 3 of 10 tables')
    expect((within(progress).getByLabelText('Tables done') as HTMLProgressElement).value).toBe(3)
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ include_env: false, include_workspace: true })

    add(made)
    stream.send({ phase: 'done', bytes_written: 2_400_000, tables_done: 10, tables_total: 10, backup: made })
    stream.send('[DONE]')
    stream.close()

    expect(await screen.findByText(`Backup ${made.name} is ready`)).toBeTruthy()
    const list = await screen.findByRole('list', { name: 'Backups' })
    await waitFor(() => expect(within(list).getByText(made.name)).toBeTruthy())
  })

  it('says why a backup failed when the stream reports it, and why a second one is refused', async () => {
    const stream = eventStream()
    let busy = false
    api((call) => {
      if (call.method !== 'POST' || call.url !== `${R}/backups`) return undefined
      return busy ? json({ detail: 'a backup is already running' }, 409) : stream.response
    })
    renderPage(<RecoveryPage />, { path: '/recovery' })

    await userEvent.click(await screen.findByRole('button', { name: 'Back up now' }))
    stream.send({ phase: 'failed', bytes_written: 0, tables_done: 0, tables_total: 0, detail: 'pg_dump exited with 1' })
    expect(await screen.findByText('The backup failed: pg_dump exited with 1')).toBeTruthy()

    busy = true
    await userEvent.click(screen.getByRole('button', { name: 'Back up now' }))
    expect(await screen.findByText('The backup failed: a backup is already running')).toBeTruthy()
  })

  it('restores only after a passed pre-check and a confirmation, then shows the comparison with the manifest', async () => {
    const report: RestoreReport = {
      restored: older.name,
      safety_backup: 'nova-backup-20261204T221000Z-before-restore-cccc.tar',
      matches: true,
      tables: [{ name: 'memories', expected_rows: 1000, actual_rows: 1000, checksum_matches: true }],
      redis: [{ db: 1, expected_keys: 40, actual_keys: 40, checksum_matches: true }],
      workspace_files: 3,
    }
    const { calls } = api((call) => {
      if (call.url === `${R}/backups/${encodeURIComponent(older.name)}/check`) return goodCheck
      if (call.url === `${R}/backups/${encodeURIComponent(older.name)}/restore`) return report
      return undefined
    })
    renderPage(<RecoveryPage />, { path: '/recovery' })

    await userEvent.click(await screen.findByRole('button', { name: `Restore ${older.name}` }))
    const dialog = await screen.findByRole('dialog', { name: 'Restore this backup?' })
    const precheck = await within(dialog).findByRole('region', { name: 'Pre-check' })
    expect(precheck.textContent).toContain('Pre-check passed')
    expect(precheck.textContent).toContain('2 tables with 1,200 rows, 40 Redis keys, 3 workspace files')
    expect(calls.some((c) => c.url.endsWith('/restore'))).toBe(false)

    await userEvent.click(within(dialog).getByRole('button', { name: 'Restore backup' }))

    expect(await within(dialog).findByText('Restored: all 1 tables and 1 Redis databases match the backup.')).toBeTruthy()
    expect(within(dialog).getByText(report.safety_backup!)).toBeTruthy()
    expect(calls.find((c) => c.url.endsWith('/restore'))).toMatchObject({ method: 'POST', body: { restore_env: false } })
  })

  it('refuses to restore an archive whose pre-check failed and lists the problems', async () => {
    const { calls } = api((call) =>
      call.url.endsWith('/check') ? { name: older.name, ok: false, problems: ['memories: checksum differs from the manifest'], manifest: null } : undefined,
    )
    renderPage(<RecoveryPage />, { path: '/recovery' })

    await userEvent.click(await screen.findByRole('button', { name: `Restore ${older.name}` }))
    const dialog = await screen.findByRole('dialog', { name: 'Restore this backup?' })
    expect(await within(dialog).findByText('memories: checksum differs from the manifest')).toBeTruthy()
    expect((within(dialog).getByRole('button', { name: 'Restore backup' }) as HTMLButtonElement).disabled).toBe(true)
    expect(calls.some((c) => c.url.endsWith('/restore'))).toBe(false)
  })

  it('uploads an archive as the raw body and shows recovery’s refusal of a bad one', async () => {
    let refuse = true
    const { calls } = api((call) =>
      call.url === `${R}/backups/upload` ? (refuse ? json({ detail: 'the archive is truncated' }, 400) : json(made, 201)) : undefined,
    )
    renderPage(<RecoveryPage />, { path: '/recovery' })

    const input = (await screen.findByLabelText('Backup archive to upload')) as HTMLInputElement
    const file = new File(['not really a tar'], 'broken.tar', { type: 'application/x-tar' })
    await userEvent.upload(input, file)
    expect(await screen.findByText('The upload was refused: the archive is truncated')).toBeTruthy()
    const sent = calls.find((c) => c.url === `${R}/backups/upload`)!
    expect(sent.method).toBe('POST')
    expect(sent.body).toBe(file)
    expect(sent.headers.get('Content-Type')).toBe('application/x-tar')

    refuse = false
    await userEvent.upload(input, file)
    expect(await screen.findByText(`Backup ${made.name} uploaded and verified`)).toBeTruthy()
  })

  it('deletes a backup only after confirming', async () => {
    const { calls } = api()
    renderPage(<RecoveryPage />, { path: '/recovery' })

    await userEvent.click(await screen.findByRole('button', { name: `Delete ${older.name}` }))
    const dialog = await screen.findByRole('dialog', { name: 'Delete this backup?' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)

    await userEvent.click(screen.getByRole('button', { name: `Delete ${older.name}` }))
    await userEvent.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Delete backup' }))
    expect(await screen.findByText('No backups yet')).toBeTruthy()
    expect(calls.find((c) => c.method === 'DELETE')?.url).toBe(`${R}/backups/${encodeURIComponent(older.name)}`)
  })

  it('downloads a backup with the admin secret and the server’s file name', async () => {
    localStorage.setItem('nova.adminSecret', 'admin-secret-for-tests')
    const created = vi.fn(() => 'blob:nova/1')
    // jsdom has no object URLs; a subclass keeps the real URL for everything else.
    vi.stubGlobal('URL', class extends URL {
      static override createObjectURL = created
      static override revokeObjectURL = vi.fn()
    })
    const clicked: string[] = []
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download)
    })
    const { calls } = api((call) =>
      call.url === `${R}/backups/${encodeURIComponent(older.name)}` && call.method === 'GET'
        ? new Response('tar bytes', { headers: { 'Content-Type': 'application/x-tar', 'Content-Disposition': `attachment; filename="${older.name}"` } })
        : undefined,
    )
    renderPage(<RecoveryPage />, { path: '/recovery' })

    await userEvent.click(await screen.findByRole('button', { name: `Download ${older.name}` }))

    await waitFor(() => expect(clicked).toEqual([older.name]))
    expect(calls.find((c) => c.url.endsWith(encodeURIComponent(older.name)))?.headers.get('X-Admin-Secret')).toBe('admin-secret-for-tests')
    click.mockRestore()
  })
})

describe('Recovery page factory reset', () => {
  it('lists what each category removes and resets only the chosen ones after RESET is typed, backing up first', async () => {
    const { calls } = api((call) =>
      call.method === 'POST' && call.url === `${R}/reset`
        ? { categories: ['memories'], backup: 'nova-backup-x-before-reset-dddd.tar', rows_deleted: { memories: 12, fact_revisions: 3 }, redis_keys_deleted: 4, files_deleted: 0 }
        : undefined,
    )
    renderPage(<RecoveryPage />, { path: '/recovery' })

    const list = await screen.findByRole('list', { name: 'Reset categories' })
    expect(within(list).getByText(/Tables: memories, fact_revisions\./)).toBeTruthy()
    expect(within(list).getByText(/nova:chat:\* \(DB 3\)/)).toBeTruthy()
    const submit = screen.getByRole('button', { name: 'Reset' }) as HTMLButtonElement
    expect(submit.disabled).toBe(true)

    await userEvent.click(within(list).getByRole('checkbox', { name: /Memories/ }))
    await userEvent.type(screen.getByLabelText('Type RESET to confirm'), 'reset')
    expect((screen.getByRole('button', { name: 'Reset 1 category' }) as HTMLButtonElement).disabled).toBe(true)
    await userEvent.clear(screen.getByLabelText('Type RESET to confirm'))
    await userEvent.type(screen.getByLabelText('Type RESET to confirm'), 'RESET')
    expect((screen.getByRole('checkbox', { name: 'Back up first (recommended)' }) as HTMLInputElement).checked).toBe(true)
    await userEvent.click(screen.getByRole('button', { name: 'Reset 1 category' }))

    const result = await screen.findByRole('region', { name: 'Reset result' })
    expect(result.textContent).toContain('Removed 15 rows, 4 Redis keys and 0 files.')
    expect(result.textContent).toContain('nova-backup-x-before-reset-dddd.tar')
    expect(calls.find((c) => c.url === `${R}/reset`)?.body).toEqual({ categories: ['memories'], confirm: 'RESET', backup_first: true })
  })

  it('resets without a backup only when the box is cleared', async () => {
    const { calls } = api((call) =>
      call.url === `${R}/reset` ? { categories: ['chat_history'], backup: null, rows_deleted: {}, redis_keys_deleted: 0, files_deleted: 0 } : undefined,
    )
    renderPage(<RecoveryPage />, { path: '/recovery' })

    await userEvent.click(await screen.findByRole('checkbox', { name: /Chat history/ }))
    await userEvent.click(screen.getByRole('checkbox', { name: 'Back up first (recommended)' }))
    await userEvent.type(screen.getByLabelText('Type RESET to confirm'), 'RESET')
    await userEvent.click(screen.getByRole('button', { name: 'Reset 1 category' }))

    expect(await screen.findByText('No backup was taken first.')).toBeTruthy()
    expect(calls.find((c) => c.url === `${R}/reset`)?.body).toMatchObject({ backup_first: false })
  })
})

describe('Recovery page settings and services', () => {
  it('checks the checkpoint schedule before saving and sends only what changed', async () => {
    const { calls } = api((call) => (call.method === 'PATCH' && call.url === `${R}/checkpoints` ? { ...schedule, interval_hours: 12 } : undefined))
    renderPage(<RecoveryPage />, { path: '/recovery' })

    const every = await screen.findByLabelText('Every (hours)')
    await userEvent.clear(every)
    await userEvent.type(every, '0.1')
    await userEvent.click(screen.getByRole('button', { name: 'Save schedule' }))
    expect(screen.getByText('Between 0.25 and 720 hours.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false)

    await userEvent.clear(every)
    await userEvent.type(every, '12')
    await userEvent.click(screen.getByRole('button', { name: 'Save schedule' }))
    expect(await screen.findByText('Checkpoint schedule saved')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ interval_hours: 12 })
  })

  it('restarts a service after confirming and shows its recent log lines', async () => {
    const { calls } = api((call) => {
      if (call.url === `${R}/services/orchestrator/logs?lines=200`) return { name: 'orchestrator', lines: ['INFO started', 'INFO ready'] }
      if (call.url === `${R}/services/orchestrator/restart`) return { action: 'restart', services: ['orchestrator'] }
      return undefined
    })
    renderPage(<RecoveryPage />, { path: '/recovery' })

    const services = await screen.findByRole('list', { name: 'Managed services' })
    expect(within(services).getByText(/pid 4242/)).toBeTruthy()
    await userEvent.click(within(services).getByRole('button', { name: 'Logs of orchestrator' }))
    expect((await screen.findByLabelText('Log of orchestrator')).textContent).toBe('INFO started\nINFO ready')

    await userEvent.click(within(services).getByRole('button', { name: 'Restart orchestrator' }))
    await userEvent.click(within(await screen.findByRole('dialog', { name: 'Restart orchestrator?' })).getByRole('button', { name: 'Restart service' }))
    expect(await screen.findByText('orchestrator is restarting')).toBeTruthy()
    expect(calls.find((c) => c.url.endsWith('/restart'))?.method).toBe('POST')
  })

  it('starts an optional profile that is off and stops one that runs', async () => {
    const { calls } = api((call) => {
      if (call.url === `${R}/managed-services`)
        return { manager: 'launcher', services: [{ name: 'voice-service', running: true, pid: 7, restarts: 0 }, { name: 'chat-bridge', running: false, restarts: 0 }] }
      if (call.url === `${R}/profiles/bridges/start`) return { action: 'start', services: ['chat-bridge'] }
      if (call.url === `${R}/profiles/voice/stop`) return { action: 'stop', services: ['voice-service'] }
      return undefined
    })
    renderPage(<RecoveryPage />, { path: '/recovery' })

    const profiles = await screen.findByRole('list', { name: 'Optional profiles' })
    await userEvent.click(within(profiles).getByRole('button', { name: 'Start bridges' }))
    expect(await screen.findByText('Starting chat-bridge')).toBeTruthy()
    await userEvent.click(within(profiles).getByRole('button', { name: 'Stop voice' }))
    expect(await screen.findByText('Stopping voice-service')).toBeTruthy()
    expect(calls.filter((c) => c.url.includes('/profiles/')).map((c) => [c.method, c.url])).toEqual([
      ['POST', `${R}/profiles/bridges/start`],
      ['POST', `${R}/profiles/voice/stop`],
    ])
  })

  it('says so when recovery has no service manager here', async () => {
    api((call) => (call.url === `${R}/managed-services` ? json({ detail: 'no service manager here: run under `make run`' }, 503) : undefined))
    renderPage(<RecoveryPage />, { path: '/recovery' })

    expect(await screen.findByText('no service manager here: run under `make run`')).toBeTruthy()
  })

  it('edits .env without ever showing a secret, says which services need a restart, and restarts them from there', async () => {
    let saved = false
    const { calls } = api((call) => {
      if (call.method === 'PATCH' && call.url === `${R}/env`) {
        saved = true
        return { changed: ['LOG_LEVEL', 'OPENAI_API_KEY'], restart_needed: ['llm-gateway'] }
      }
      // The file as it reads after the save: the form starts again from it.
      if (call.url === `${R}/env` && saved) return { ...env, entries: [{ ...env.entries[0]!, value: 'DEBUG' }, { ...env.entries[1]!, value: '••••-key' }] }
      if (call.url === `${R}/services/llm-gateway/restart`) return { action: 'restart', services: ['llm-gateway'] }
      return undefined
    })
    renderPage(<RecoveryPage />, { path: '/recovery' })

    const secret = (await screen.findByLabelText('OPENAI_API_KEY')) as HTMLInputElement
    expect(secret.type).toBe('password')
    expect(secret.value).toBe('')
    expect(secret.placeholder).toContain('••••9f2c')
    expect(screen.getByText('Restart after a change: llm-gateway')).toBeTruthy()

    await userEvent.click(screen.getByRole('button', { name: 'Save .env' }))
    expect(await screen.findByText('Nothing changed')).toBeTruthy()

    const level = screen.getByLabelText('LOG_LEVEL') as HTMLInputElement
    expect(level.value).toBe('INFO')
    await userEvent.clear(level)
    await userEvent.type(level, 'DEBUG')
    await userEvent.type(secret, 'sk-new-key')
    await userEvent.click(screen.getByRole('button', { name: 'Save .env' }))

    const result = await screen.findByRole('status', { name: 'Saved .env' })
    expect(result.textContent).toContain('Changed LOG_LEVEL, OPENAI_API_KEY. Restart llm-gateway to apply it.')
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ updates: { LOG_LEVEL: 'DEBUG', OPENAI_API_KEY: 'sk-new-key' } })
    await waitFor(() => expect((screen.getByLabelText('OPENAI_API_KEY') as HTMLInputElement).placeholder).toContain('••••-key'))
    expect((screen.getByLabelText('OPENAI_API_KEY') as HTMLInputElement).value).toBe('')

    await userEvent.click(within(screen.getByRole('status', { name: 'Saved .env' })).getByRole('button', { name: 'Restart llm-gateway' }))
    await userEvent.click(within(await screen.findByRole('dialog', { name: 'Restart llm-gateway?' })).getByRole('button', { name: 'Restart service' }))
    expect(await screen.findByText('llm-gateway is restarting')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST' && c.url === `${R}/services/llm-gateway/restart`)).toBe(true)
  })
})
