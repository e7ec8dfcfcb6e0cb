import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Download, Plus, RotateCcw, Trash2, Upload } from 'lucide-react'
import { useRef, useState, type ChangeEvent } from 'react'

import { errorMessage } from '../../api/client'
import { byteSize, createBackup, recoveryApi, recoveryQueries, type BackupInfo, type BackupProgress } from '../../api/recovery'
import { count, dateTime } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { ConfirmDialog } from '../ConfirmDialog'
import { FormError } from '../Field'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { RestoreDialog } from './RestoreDialog'

const PHASE_LABEL: Record<BackupProgress['phase'], string> = {
  started: 'Starting',
  postgres: 'Dumping the database',
  redis: 'Saving Redis',
  env: 'Sealing .env keys',
  workspace: 'Packing workspace files',
  archive: 'Writing the archive',
  done: 'Done',
  failed: 'Failed',
}

/** Backups: make one with live progress, upload one, and download, restore or delete those kept. */
export function BackupsPanel() {
  const queryClient = useQueryClient()
  const backups = useQuery(recoveryQueries.backups())
  const [includeEnv, setIncludeEnv] = useState(true)
  const [progress, setProgress] = useState<BackupProgress | null>(null)
  const [restoring, setRestoring] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<BackupInfo | null>(null)
  const fileInput = useRef<HTMLInputElement>(null)

  const refresh = () => void queryClient.invalidateQueries({ queryKey: recoveryQueries.all })
  const create = useMutation({
    mutationFn: () => createBackup({ include_env: includeEnv, include_workspace: true }, setProgress),
    meta: { errorToast: false },
    onMutate: () => setProgress(null),
    onSuccess: (made) => toast.success(`Backup ${made.name} is ready`),
    onSettled: refresh,
  })
  const upload = useMutation({
    mutationFn: recoveryApi.upload,
    meta: { errorToast: false },
    onSuccess: (kept) => {
      toast.success(`Backup ${kept.name} uploaded and verified`)
      refresh()
    },
  })
  const remove = useMutation({
    mutationFn: recoveryApi.remove,
    meta: { errorToast: false },
    onSuccess: (_, name) => {
      toast.success(`Backup ${name} deleted`)
      setDeleting(null)
      refresh()
    },
  })
  const download = useMutation({ mutationFn: recoveryApi.download })

  function pickFile(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0]
    // Cleared so picking the same file again after a refusal fires a change again.
    event.target.value = ''
    if (file) upload.mutate(file)
  }

  const list = backups.data?.backups ?? []
  return (
    <Panel
      title="Backups"
      actions={
        <div className="flex flex-wrap items-center gap-2">
          <label className="flex items-center gap-1.5 text-sm">
            <input type="checkbox" className="accent-teal-600" checked={includeEnv} onChange={(event) => setIncludeEnv(event.target.checked)} />
            Include .env keys
          </label>
          <Button size="sm" onClick={() => fileInput.current?.click()} busy={upload.isPending}>
            <Upload className="h-3.5 w-3.5" aria-hidden /> Upload backup
          </Button>
          <input ref={fileInput} type="file" accept=".tar,application/x-tar" className="sr-only" aria-label="Backup archive to upload" tabIndex={-1} onChange={pickFile} />
          <Button size="sm" variant="primary" onClick={() => create.mutate()} busy={create.isPending}>
            <Plus className="h-3.5 w-3.5" aria-hidden /> Back up now
          </Button>
        </div>
      }
    >
      <p className="mb-3 text-sm text-muted">
        A backup holds the database, the Redis state, the workspace files and (sealed with the admin secret) the .env keys a restore needs.
      </p>
      {(create.isPending || progress) && <ProgressView progress={progress} running={create.isPending} />}
      <FormError message={create.error ? `The backup failed: ${errorMessage(create.error)}` : null} />
      <FormError message={upload.error ? `The upload was refused: ${errorMessage(upload.error)}` : null} />
      {backups.isPending && <Loading label="Loading backups…" />}
      {backups.isError && <ErrorNotice title="Could not list the backups" error={backups.error} onRetry={() => void backups.refetch()} />}
      {backups.isSuccess && list.length === 0 && <EmptyState title="No backups yet">Back up now, or let the checkpoint schedule make them.</EmptyState>}
      {list.length > 0 && (
        <ul className="divide-y divide-line" aria-label="Backups">
          {list.map((info) => (
            <li key={info.name} className="flex flex-wrap items-center justify-between gap-2 py-2">
              <div className="min-w-0">
                <p className="font-mono text-xs break-all">{info.name}</p>
                <p className="mt-0.5 flex flex-wrap items-center gap-x-2 gap-y-1 text-xs text-muted">
                  <Badge className={info.reason === 'manual' ? badgeTone.accent : badgeTone.neutral}>{info.reason}</Badge>
                  <span>{dateTime(info.created_at)}</span>
                  <span>{byteSize(info.size_bytes)}</span>
                  <span>
                    {count(info.tables)} tables, {count(info.rows)} rows, {count(info.redis_keys)} Redis keys
                  </span>
                  {!info.env_included && <span>no .env keys</span>}
                </p>
              </div>
              <div className="flex gap-1">
                <Button size="sm" variant="ghost" aria-label={`Download ${info.name}`} onClick={() => download.mutate(info.name)}>
                  <Download className="h-3.5 w-3.5" aria-hidden /> Download
                </Button>
                <Button size="sm" aria-label={`Restore ${info.name}`} onClick={() => setRestoring(info.name)}>
                  <RotateCcw className="h-3.5 w-3.5" aria-hidden /> Restore
                </Button>
                <Button size="sm" variant="ghost" aria-label={`Delete ${info.name}`} onClick={() => setDeleting(info)}>
                  <Trash2 className="h-3.5 w-3.5" aria-hidden /> Delete
                </Button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {restoring && <RestoreDialog name={restoring} onClose={() => setRestoring(null)} />}
      {deleting && (
        <ConfirmDialog
          title="Delete this backup?"
          confirmLabel="Delete backup"
          busy={remove.isPending}
          error={remove.error ? errorMessage(remove.error) : null}
          onConfirm={() => remove.mutate(deleting.name)}
          onCancel={() => {
            setDeleting(null)
            remove.reset()
          }}
        >
          <p className="font-mono text-xs break-all">{deleting.name}</p>
          <p className="mt-2">Made {dateTime(deleting.created_at)}. The archive is removed from this machine; a copy you downloaded is not affected.</p>
        </ConfirmDialog>
      )}
    </Panel>
  )
}

function ProgressView({ progress, running }: { progress: BackupProgress | null; running: boolean }) {
  const phase = progress?.phase ?? 'started'
  const tables = progress && progress.tables_total > 0 ? progress : null
  return (
    <div role="status" aria-label="Backup progress" className="mb-3 rounded-md bg-sunken px-3 py-2 text-sm">
      <p className="font-medium">
        {PHASE_LABEL[phase]}
        {running && '…'}
      </p>
      <p className="text-xs text-muted tabular-nums">
        {byteSize(progress?.bytes_written ?? 0)} written
        {tables && `, ${tables.tables_done} of ${tables.tables_total} tables`}
        {progress?.backup && `: ${progress.backup.name}`}
      </p>
      {tables && <progress className="mt-1 h-1.5 w-full accent-teal-600" max={tables.tables_total} value={tables.tables_done} aria-label="Tables done" />}
    </div>
  )
}
