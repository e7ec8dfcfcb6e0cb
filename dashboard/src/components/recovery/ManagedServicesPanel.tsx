import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { RotateCw, ScrollText } from 'lucide-react'
import { useState } from 'react'

import { errorMessage } from '../../api/client'
import { LOG_LINES, OPTIONAL_PROFILES, recoveryApi, recoveryQueries, type ManagedService } from '../../api/recovery'
import { count } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { ConfirmDialog } from '../ConfirmDialog'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'

/** The services the process manager (the launcher's supervisor, or Docker) runs: restart one, read its log. */
export function ManagedServicesPanel() {
  const services = useQuery(recoveryQueries.managedServices())
  const [restarting, setRestarting] = useState<string | null>(null)
  const [logsOf, setLogsOf] = useState<string | null>(null)
  return (
    <Panel title={services.data ? `Services (${services.data.manager})` : 'Services'}>
      {services.isPending && <Loading />}
      {services.isError && <ErrorNotice title="Could not list the managed services" error={services.error} onRetry={() => void services.refetch()} />}
      {services.isSuccess && services.data.services.length === 0 && <EmptyState title="The process manager runs no services" />}
      {services.data && services.data.services.length > 0 && (
        <ul className="divide-y divide-line" aria-label="Managed services">
          {services.data.services.map((service) => (
            <li key={service.name} className="py-2">
              <ServiceRow
                service={service}
                logsOpen={logsOf === service.name}
                onRestart={() => setRestarting(service.name)}
                onLogs={() => setLogsOf((open) => (open === service.name ? null : service.name))}
              />
            </li>
          ))}
        </ul>
      )}
      {services.data && <ProfileSwitches running={new Set(services.data.services.filter((s) => s.running).map((s) => s.name))} />}
      {restarting && <RestartServiceDialog name={restarting} onDone={() => setRestarting(null)} />}
    </Panel>
  )
}

/** The optional profiles: each starts or stops its services together (what COMPOSE_PROFILES picks at `make run`). */
function ProfileSwitches({ running }: { running: Set<string> }) {
  const queryClient = useQueryClient()
  const change = useMutation({
    mutationFn: ({ profile, start }: { profile: string; start: boolean }) => (start ? recoveryApi.startProfile(profile) : recoveryApi.stopProfile(profile)),
    onSuccess: (action) => {
      toast.success(`${action.action === 'start' ? 'Starting' : 'Stopping'} ${action.services.join(', ')}`)
      void queryClient.invalidateQueries({ queryKey: recoveryQueries.all })
    },
  })
  return (
    <div className="mt-4 border-t border-line pt-3">
      <h3 className="mb-2 text-sm font-medium">Optional profiles</h3>
      <ul className="space-y-2" aria-label="Optional profiles">
        {OPTIONAL_PROFILES.map((profile) => {
          const on = profile.services.every((name) => running.has(name))
          const busy = change.isPending && change.variables?.profile === profile.name
          return (
            <li key={profile.name} className="flex flex-wrap items-center justify-between gap-2 text-sm">
              <span>
                {profile.title} <span className="font-mono text-xs text-muted">{profile.name}</span>{' '}
                <Badge className={on ? badgeTone.good : badgeTone.neutral}>{on ? 'running' : 'off'}</Badge>
              </span>
              <Button size="sm" busy={busy} aria-label={`${on ? 'Stop' : 'Start'} ${profile.name}`} onClick={() => change.mutate({ profile: profile.name, start: !on })}>
                {on ? 'Stop' : 'Start'}
              </Button>
            </li>
          )
        })}
      </ul>
    </div>
  )
}

function ServiceRow({ service, logsOpen, onRestart, onLogs }: { service: ManagedService; logsOpen: boolean; onRestart: () => void; onLogs: () => void }) {
  return (
    <>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="min-w-0">
          <p className="flex items-center gap-2 font-medium">
            {service.name}
            <Badge className={service.running ? badgeTone.good : badgeTone.bad}>{service.running ? 'running' : 'stopped'}</Badge>
          </p>
          <p className="text-xs text-muted">
            {service.pid != null && <>pid {service.pid} · </>}
            {count(service.restarts ?? 0)} restarts
            {service.detail && <> · {service.detail}</>}
          </p>
        </div>
        <div className="flex gap-1">
          <Button size="sm" variant="ghost" aria-expanded={logsOpen} aria-label={`Logs of ${service.name}`} onClick={onLogs}>
            <ScrollText className="h-3.5 w-3.5" aria-hidden /> Logs
          </Button>
          <Button size="sm" aria-label={`Restart ${service.name}`} onClick={onRestart}>
            <RotateCw className="h-3.5 w-3.5" aria-hidden /> Restart
          </Button>
        </div>
      </div>
      {logsOpen && <ServiceLogView name={service.name} />}
    </>
  )
}

function ServiceLogView({ name }: { name: string }) {
  const logs = useQuery(recoveryQueries.logs(name))
  return (
    <div className="mt-2">
      {logs.isPending && <Loading label="Reading the log…" />}
      {logs.isError && <ErrorNotice title={`Could not read the log of ${name}`} error={logs.error} onRetry={() => void logs.refetch()} />}
      {logs.data && (
        <>
          <div className="mb-1 flex items-center justify-between text-xs text-muted">
            <span>Last {Math.min(logs.data.lines.length, LOG_LINES)} lines</span>
            <Button size="sm" variant="ghost" onClick={() => void logs.refetch()} busy={logs.isFetching}>
              Refresh
            </Button>
          </div>
          <pre aria-label={`Log of ${name}`} className="max-h-80 overflow-auto rounded-md bg-sunken p-2 font-mono text-xs whitespace-pre-wrap break-all">
            {logs.data.lines.length ? logs.data.lines.join('\n') : 'No log lines yet.'}
          </pre>
        </>
      )}
    </div>
  )
}

/** Asks before restarting one service through the process manager. */
export function RestartServiceDialog({ name, onDone }: { name: string; onDone: () => void }) {
  const queryClient = useQueryClient()
  const restart = useMutation({
    mutationFn: () => recoveryApi.restartService(name),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(`${name} is restarting`)
      void queryClient.invalidateQueries({ queryKey: recoveryQueries.all })
      onDone()
    },
  })
  return (
    <ConfirmDialog
      title={`Restart ${name}?`}
      confirmLabel="Restart service"
      tone="primary"
      busy={restart.isPending}
      error={restart.error ? errorMessage(restart.error) : null}
      onConfirm={() => restart.mutate()}
      onCancel={onDone}
    >
      Requests it is answering now fail, and it is unavailable until it is ready again (usually a few seconds).
    </ConfirmDialog>
  )
}
