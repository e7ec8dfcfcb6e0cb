import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'

import { errorMessage } from '../../api/client'
import { recoveryApi, recoveryQueries, type RestoreReport } from '../../api/recovery'
import { count, dateTime } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { FormError } from '../Field'
import { Modal } from '../Modal'
import { ErrorNotice, Loading } from '../States'

/**
 * Restore one backup: recovery's pre-check (manifest, checksums, version) is shown first, and the restore can
 * only be confirmed when it passed. After the restore, the comparison with the manifest is the answer.
 */
export function RestoreDialog({ name, onClose }: { name: string; onClose: () => void }) {
  const queryClient = useQueryClient()
  const [restoreEnv, setRestoreEnv] = useState(false)
  const check = useQuery(recoveryQueries.check(name))
  const restore = useMutation({
    mutationFn: () => recoveryApi.restore(name, restoreEnv),
    meta: { errorToast: false },
    onSuccess: (report) => {
      toast.success(report.matches ? 'Backup restored; everything matches it' : 'Backup restored, with differences')
      // Every page's data may have changed.
      void queryClient.invalidateQueries()
    },
  })

  const manifest = check.data?.manifest
  return (
    <Modal title="Restore this backup?" onClose={onClose} size="lg">
      <div className="space-y-4 text-sm">
        <p className="font-mono text-xs break-all">{name}</p>
        {restore.data ? (
          <RestoreResult report={restore.data} onClose={onClose} />
        ) : (
          <>
            {check.isPending && <Loading label="Checking the archive…" />}
            {check.isError && <ErrorNotice title="Could not check the archive" error={check.error} onRetry={() => void check.refetch()} />}
            {check.data && (
              <section aria-label="Pre-check" className={`rounded-md px-3 py-2 ${check.data.ok ? 'bg-emerald-50 dark:bg-emerald-950' : 'bg-rose-50 dark:bg-rose-950'}`}>
                {check.data.ok ? (
                  <p className="font-medium">Pre-check passed: the manifest, checksums and version are fine.</p>
                ) : (
                  <>
                    <p className="font-medium">Pre-check failed: this archive cannot be restored.</p>
                    <ul className="mt-1 list-disc pl-5">
                      {check.data.problems.map((problem) => (
                        <li key={problem}>{problem}</li>
                      ))}
                    </ul>
                  </>
                )}
                {manifest && (
                  <p className="mt-1 text-muted">
                    Made {dateTime(manifest.created_at)} by Nova {manifest.nova_version} ({manifest.reason}):{' '}
                    {count(manifest.tables.length)} tables with {count(manifest.tables.reduce((sum, t) => sum + t.rows, 0))} rows,{' '}
                    {count(manifest.redis.reduce((sum, db) => sum + db.keys, 0))} Redis keys, {count(manifest.workspace_files)} workspace files.
                  </p>
                )}
              </section>
            )}
            <p className="text-muted">
              Everything stored now is replaced by the backup. A safety backup of the current state is taken first, and the services that write are paused while the
              restore runs.
            </p>
            {manifest?.env.included && (
              <label className="flex items-start gap-2">
                <input type="checkbox" className="mt-0.5 accent-teal-600" checked={restoreEnv} onChange={(event) => setRestoreEnv(event.target.checked)} />
                <span>
                  Also write the backup's .env keys back ({(manifest.env.keys ?? []).length}); the services that read them need a restart afterwards.
                </span>
              </label>
            )}
            <FormError message={restore.error ? errorMessage(restore.error) : null} />
            <div className="flex justify-end gap-2">
              <Button onClick={onClose} disabled={restore.isPending}>
                Cancel
              </Button>
              <Button variant="danger" onClick={() => restore.mutate()} busy={restore.isPending} disabled={!check.data?.ok}>
                Restore backup
              </Button>
            </div>
          </>
        )}
      </div>
    </Modal>
  )
}

function RestoreResult({ report, onClose }: { report: RestoreReport; onClose: () => void }) {
  const differing = report.tables.filter((t) => t.actual_rows !== t.expected_rows || !t.checksum_matches)
  const redisDiffering = report.redis.filter((db) => db.actual_keys !== db.expected_keys || !db.checksum_matches)
  return (
    <section aria-label="Restore result" className="space-y-3">
      <p role="status" className={`rounded-md px-3 py-2 font-medium ${report.matches ? 'bg-emerald-50 dark:bg-emerald-950' : 'bg-amber-50 dark:bg-amber-950'}`}>
        {report.matches
          ? `Restored: all ${report.tables.length} tables and ${report.redis.length} Redis databases match the backup.`
          : `Restored, but ${differing.length + redisDiffering.length} differ from the backup's manifest.`}
      </p>
      {(differing.length > 0 || redisDiffering.length > 0) && (
        <ul className="list-disc pl-5">
          {differing.map((t) => (
            <li key={t.name}>
              {t.name}: expected {count(t.expected_rows)} rows, found {count(t.actual_rows)}
              {t.checksum_matches ? '' : ', checksum differs'}
            </li>
          ))}
          {redisDiffering.map((db) => (
            <li key={db.db}>
              Redis DB {db.db}: expected {count(db.expected_keys)} keys, found {count(db.actual_keys)}
              {db.checksum_matches ? '' : ', checksum differs'}
            </li>
          ))}
        </ul>
      )}
      {report.safety_backup && (
        <p className="text-muted">
          The state from before is kept as <span className="font-mono text-xs break-all">{report.safety_backup}</span>.
        </p>
      )}
      {(report.restart_needed ?? []).length > 0 && <p>Restart these services to read the restored .env keys: {(report.restart_needed ?? []).join(', ')}.</p>}
      <div className="flex justify-end">
        <Button variant="primary" onClick={onClose}>
          Done
        </Button>
      </div>
    </section>
  )
}
