import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { ExternalLink } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { bridgeApi, bridgeQueries, type AdapterState } from '../api/bridge'
import { errorMessage, getAdminSecret } from '../api/client'
import { configApi, configQueries, configValue, type ConfigEntry } from '../api/config'
import { healthQueries, type ServiceStatus } from '../api/health'
import { AdminSecretDialog } from '../components/AdminSecretDialog'
import { AdminSecretRotation } from '../components/AdminSecretRotation'
import { Button } from '../components/Button'
import { FormError, SelectField, TextArea, TextField } from '../components/Field'
import { Page, PageHeader, Panel } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { SkillsRulesSettings } from '../components/SkillsRulesSettings'
import { ErrorNotice, Loading } from '../components/States'
import { VoiceSection } from '../components/VoiceSettings'
import { toast } from '../toast'

// Limits and choices of the orchestrator's KNOWN_SETTINGS (platform_config/service.py).
const MAX_NAME = 100
const MAX_GREETING = 2000
const MAX_PERSONA = 20_000
const CONTEXT_PARTS = ['system', 'tools', 'memory', 'history', 'working'] as const
type ContextPart = (typeof CONTEXT_PARTS)[number]
const CONTEXT_HELP: Record<ContextPart, string> = {
  system: 'system prompt and persona',
  tools: 'tool definitions',
  memory: 'recalled memories',
  history: 'earlier messages',
  working: 'the current task',
}
const SANDBOX_TIERS = ['isolated', 'workspace', 'nova', 'host'] as const

/** Settings: identity, platform defaults, context budgets, admin secret, developer resources. */
export function Component() {
  const entries = useQuery(configQueries.entries())

  return (
    <Page>
      <PageHeader title="Settings" />
      {entries.isPending && <Loading label="Loading settings…" />}
      {entries.isError && <ErrorNotice title="Could not load the settings" error={entries.error} onRetry={() => void entries.refetch()} />}
      {entries.isSuccess && (
        <div className="space-y-6">
          <IdentitySection entries={entries.data} />
          <ContextBudgetSection entries={entries.data} />
          <DefaultsSection entries={entries.data} />
          <ChatBridgesSection entries={entries.data} />
          <VoiceSection entries={entries.data} />
        </div>
      )}
      <div className="mt-6 space-y-6">
        <SkillsRulesSettings />
        <AdminSecretSection />
        <ServicesSection />
      </div>
    </Page>
  )
}

/** PATCH the changed keys one by one, in the given order, then refresh settings and identity. */
function useSaveConfig(success: string) {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: async (changes: [string, unknown][]) => {
      for (const [key, value] of changes) await configApi.update(key, value)
    },
    meta: { errorToast: false },
    onSuccess: () => toast.success(success),
    // Some keys may have been saved before one was refused; show what the server now holds either way.
    onSettled: () => queryClient.invalidateQueries({ queryKey: configQueries.all }),
  })
}

function IdentitySection({ entries }: { entries: ConfigEntry[] }) {
  const saved = {
    name: configValue(entries, 'nova.name', 'Nova'),
    greeting: configValue(entries, 'nova.greeting', ''),
    persona: configValue(entries, 'nova.persona', ''),
  }
  const [form, setForm] = useState(saved)
  const [errors, setErrors] = useState<{ name?: string; greeting?: string; persona?: string }>({})
  const save = useSaveConfig('Identity saved')

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: typeof errors = {}
    if (!form.name.trim()) next.name = 'The AI needs a name.'
    else if (form.name.trim().length > MAX_NAME) next.name = `At most ${MAX_NAME} characters.`
    if (form.greeting.length > MAX_GREETING) next.greeting = `At most ${MAX_GREETING.toLocaleString()} characters.`
    if (form.persona.length > MAX_PERSONA) next.persona = `At most ${MAX_PERSONA.toLocaleString()} characters.`
    setErrors(next)
    if (Object.keys(next).length > 0) return
    const changes: [string, unknown][] = []
    if (form.name.trim() !== saved.name) changes.push(['nova.name', form.name.trim()])
    if (form.greeting !== saved.greeting) changes.push(['nova.greeting', form.greeting])
    if (form.persona !== saved.persona) changes.push(['nova.persona', form.persona])
    if (changes.length === 0) return void toast.info('Nothing changed')
    save.mutate(changes)
  }

  return (
    <Panel title="Nova identity">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <TextField
          label="Name"
          value={form.name}
          error={errors.name}
          className="max-w-sm"
          onChange={(event) => setForm({ ...form, name: event.target.value })}
        />
        <TextArea
          label="Greeting"
          rows={2}
          value={form.greeting}
          error={errors.greeting}
          hint="The first thing the chat shows. {name} becomes the name above."
          onChange={(event) => setForm({ ...form, greeting: event.target.value })}
        />
        <TextArea
          label="Persona"
          rows={4}
          value={form.persona}
          error={errors.persona}
          hint="Personality and tone, added to every agent's system prompt."
          onChange={(event) => setForm({ ...form, persona: event.target.value })}
        />
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <Button type="submit" variant="primary" busy={save.isPending}>
          Save identity
        </Button>
      </form>
    </Panel>
  )
}

function ContextBudgetSection({ entries }: { entries: ConfigEntry[] }) {
  const saved = Object.fromEntries(CONTEXT_PARTS.map((part) => [part, configValue(entries, `context.${part}_pct`, 0)])) as Record<ContextPart, number>
  const [shares, setShares] = useState(saved)
  const save = useSaveConfig('Context budgets saved')
  const total = CONTEXT_PARTS.reduce((sum, part) => sum + shares[part], 0)

  function submit(event: FormEvent) {
    event.preventDefault()
    if (total !== 100) return
    // The orchestrator refuses any single change that takes the total over 100 %, so shrink shares first.
    const changed = CONTEXT_PARTS.filter((part) => shares[part] !== saved[part])
    const ordered = [...changed].sort((a, b) => shares[a] - saved[a] - (shares[b] - saved[b]))
    save.mutate(ordered.map((part) => [`context.${part}_pct`, shares[part]]))
  }

  return (
    <Panel title="Context budgets">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <p className="text-sm text-muted">How an agent's context window is shared out. The shares must add up to 100 %.</p>
        <div className="space-y-3">
          {CONTEXT_PARTS.map((part) => (
            <div key={part} className="grid grid-cols-[7rem_1fr_3.5rem] items-center gap-3 max-sm:grid-cols-[5.5rem_1fr_3rem]">
              <label htmlFor={`budget-${part}`} className="text-sm font-medium capitalize">
                {part}
              </label>
              <input
                id={`budget-${part}`}
                type="range"
                min={0}
                max={100}
                step={1}
                value={shares[part]}
                aria-describedby={`budget-${part}-help`}
                aria-valuetext={`${shares[part]} percent`}
                onChange={(event) => setShares({ ...shares, [part]: Number(event.target.value) })}
                className="w-full accent-teal-600"
              />
              <span className="text-right text-sm tabular-nums">{shares[part]} %</span>
              <span id={`budget-${part}-help`} className="sr-only">
                {CONTEXT_HELP[part]}
              </span>
            </div>
          ))}
        </div>
        <p role="status" className={`text-sm font-medium ${total === 100 ? 'text-emerald-700 dark:text-emerald-300' : 'text-amber-700 dark:text-amber-300'}`}>
          Total {total} %{total !== 100 && ` — ${total > 100 ? 'remove' : 'add'} ${Math.abs(100 - total)} % to save`}
        </p>
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <div className="flex gap-2">
          <Button type="submit" variant="primary" disabled={total !== 100} busy={save.isPending}>
            Save budgets
          </Button>
          <Button onClick={() => setShares(saved)}>Reset</Button>
        </div>
      </form>
    </Panel>
  )
}

function DefaultsSection({ entries }: { entries: ConfigEntry[] }) {
  const savedModel = configValue<string | null>(entries, 'llm.default_chat_model', null) ?? ''
  const savedTier = configValue<string | null>(entries, 'sandbox.default_tier', null) ?? ''
  const [model, setModel] = useState(savedModel)
  const [tier, setTier] = useState(savedTier)
  const save = useSaveConfig('Defaults saved')

  function submit(event: FormEvent) {
    event.preventDefault()
    const changes: [string, unknown][] = []
    if (model.trim() !== savedModel) changes.push(['llm.default_chat_model', model.trim() || null])
    if (tier !== savedTier) changes.push(['sandbox.default_tier', tier || null])
    if (changes.length === 0) return void toast.info('Nothing changed')
    save.mutate(changes)
  }

  return (
    <Panel title="Platform defaults">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField
            label="Default chat model"
            value={model}
            placeholder="the gateway's default"
            hint="For agents that name no model; empty lets the gateway choose."
            onChange={(event) => setModel(event.target.value)}
          />
          <SelectField
            label="Default sandbox"
            value={tier}
            hint="What file, shell and git tools may touch when an agent names no tier."
            onChange={(event) => setTier(event.target.value)}
          >
            <option value="">Service setting (NOVA_DEFAULT_SANDBOX)</option>
            {SANDBOX_TIERS.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </SelectField>
        </div>
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <Button type="submit" variant="primary" busy={save.isPending}>
          Save defaults
        </Button>
      </form>
    </Panel>
  )
}

function AdminSecretSection() {
  const [open, setOpen] = useState(false)
  const [hasSecret, setHasSecret] = useState(() => Boolean(getAdminSecret()))
  return (
    <Panel title="Admin secret">
      <AdminSecretRotation onRotated={() => setHasSecret(true)} />
      <div className="mt-6 border-t border-line pt-4">
        <h3 className="mb-1 text-sm font-medium">This browser's copy</h3>
        <p className="mb-3 text-sm text-muted">
          This browser {hasSecret ? 'sends a stored admin secret' : 'has no admin secret stored'}. If the secret was changed elsewhere,
          enter the new one here; this changes nothing on the server.
        </p>
        <Button onClick={() => setOpen(true)}>{hasSecret ? 'Change stored secret' : 'Enter admin secret'}</Button>
      </div>
      {open && (
        <AdminSecretDialog
          onClose={() => setOpen(false)}
          onSaved={() => {
            setOpen(false)
            setHasSecret(Boolean(getAdminSecret()))
          }}
        />
      )}
    </Panel>
  )
}

// The platform settings chat-bridge reads (chat_bridge/platform_settings.py BRIDGE_CONFIG_KEYS).
const BRIDGE_FIELDS: { platform: 'telegram' | 'slack'; key: string; label: string; kind: 'secret' | 'text' | 'ids'; hint?: string }[] = [
  { platform: 'telegram', key: 'telegram.bot_token', label: 'Bot token', kind: 'secret' },
  { platform: 'telegram', key: 'telegram.webhook_url', label: 'Webhook URL', kind: 'text', hint: 'Empty: the bridge polls Telegram instead.' },
  { platform: 'telegram', key: 'telegram.allowed_user_ids', label: 'Allowed user IDs', kind: 'ids' },
  { platform: 'telegram', key: 'telegram.allowed_chat_ids', label: 'Allowed chat IDs', kind: 'ids' },
  { platform: 'slack', key: 'slack.bot_token', label: 'Bot token', kind: 'secret' },
  { platform: 'slack', key: 'slack.app_token', label: 'App token', kind: 'secret', hint: 'For Socket Mode.' },
  { platform: 'slack', key: 'slack.signing_secret', label: 'Signing secret', kind: 'secret' },
  { platform: 'slack', key: 'slack.allowed_team_ids', label: 'Allowed team IDs', kind: 'ids' },
  { platform: 'slack', key: 'slack.allowed_channel_ids', label: 'Allowed channel IDs', kind: 'ids' },
]

const adapterTone: Record<AdapterState, string> = {
  running: badgeTone.good,
  starting: badgeTone.warn,
  failed: badgeTone.bad,
  stopped: badgeTone.neutral,
  disabled: badgeTone.neutral,
}

function idsText(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(', ')
  return typeof value === 'string' ? value : ''
}

function ChatBridgesSection({ entries }: { entries: ConfigEntry[] }) {
  const queryClient = useQueryClient()
  const overview = useQuery({ ...healthQueries.services(), refetchInterval: false })
  const bridgeOn = overview.data?.services.some((service) => service.name === 'chat-bridge' && service.state !== 'disabled') ?? false
  const status = useQuery({ ...bridgeQueries.status(), enabled: bridgeOn })
  const initial = () =>
    Object.fromEntries(
      BRIDGE_FIELDS.map((field) => [field.key, field.kind === 'secret' ? '' : field.kind === 'ids' ? idsText(configValue(entries, field.key, null)) : String(configValue(entries, field.key, '') ?? '')]),
    )
  const [values, setValues] = useState<Record<string, string>>(initial)
  const save = useMutation({
    mutationFn: async (changes: [string, unknown][]) => {
      for (const [key, value] of changes) await configApi.update(key, value)
      // Tokens are read when the adapters start; allow-lists within seconds. Restart them either way.
      return bridgeOn ? bridgeApi.reload() : null
    },
    meta: { errorToast: false },
    onSuccess: (fresh) => {
      setValues((current) => Object.fromEntries(Object.entries(current).map(([k, v]) => [k, BRIDGE_FIELDS.find((f) => f.key === k)?.kind === 'secret' ? '' : v])))
      if (fresh) queryClient.setQueryData(bridgeQueries.status().queryKey, fresh)
      toast.success(bridgeOn ? 'Bridge settings saved and applied' : 'Bridge settings saved; they apply when the bridge starts')
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: configQueries.all }),
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const changes: [string, unknown][] = []
    for (const field of BRIDGE_FIELDS) {
      const value = values[field.key]?.trim() ?? ''
      if (field.kind === 'secret') {
        if (value) changes.push([field.key, value])
      } else if (field.kind === 'ids') {
        if (value !== idsText(configValue(entries, field.key, null))) {
          changes.push([field.key, value.split(',').map((id) => id.trim()).filter(Boolean)])
        }
      } else if (value !== String(configValue(entries, field.key, '') ?? '')) {
        changes.push([field.key, value])
      }
    }
    if (changes.length === 0) return void toast.info('Nothing changed')
    save.mutate(changes)
  }

  return (
    <Panel title="Chat bridges">
      <form onSubmit={submit} className="space-y-5" noValidate>
        {!overview.isPending && !bridgeOn && (
          <p className="text-sm text-muted">
            The bridge is off. Start Nova with the bridges profile (<code className="font-mono">COMPOSE_PROFILES=bridges</code>) to connect
            Telegram and Slack; settings saved here apply when it starts.
          </p>
        )}
        {status.isError && <ErrorNotice title="The chat bridge did not answer" error={status.error} onRetry={() => void status.refetch()} />}
        {(['telegram', 'slack'] as const).map((platform) => {
          const adapter = status.data?.adapters.find((a) => a.platform === platform)
          return (
            <fieldset key={platform} className="space-y-3">
              <legend className="flex items-center gap-2 text-sm font-semibold">
                {platform === 'telegram' ? 'Telegram' : 'Slack'}
                {adapter && <Badge className={adapterTone[adapter.state]}>{adapter.state}</Badge>}
                {adapter?.mode && <span className="text-xs font-normal text-muted">{adapter.mode}</span>}
              </legend>
              {adapter?.error && <p className="rounded-md bg-rose-50 px-3 py-2 text-sm text-rose-900 dark:bg-rose-950 dark:text-rose-100">{adapter.error}</p>}
              <div className="grid gap-3 sm:grid-cols-2">
                {BRIDGE_FIELDS.filter((field) => field.platform === platform).map((field) => {
                  const isSet = entries.some((entry) => entry.key === field.key && entry.is_set)
                  return (
                    <TextField
                      key={field.key}
                      label={`${platform === 'telegram' ? 'Telegram' : 'Slack'} ${field.label.charAt(0).toLowerCase()}${field.label.slice(1)}`}
                      type={field.kind === 'secret' ? 'password' : 'text'}
                      autoComplete="off"
                      value={values[field.key] ?? ''}
                      placeholder={field.kind === 'secret' ? (isSet ? 'set; leave empty to keep' : 'not set') : field.kind === 'ids' ? 'anyone (empty)' : ''}
                      hint={field.kind === 'ids' ? 'Comma-separated; empty: nobody is answered.' : field.hint}
                      onChange={(event) => setValues({ ...values, [field.key]: event.target.value })}
                    />
                  )
                })}
              </div>
            </fieldset>
          )
        })}
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <Button type="submit" variant="primary" busy={save.isPending}>
          Save bridge settings
        </Button>
      </form>
    </Panel>
  )
}

/** Where a service's /docs is reachable from this browser: its own port on the host serving the dashboard. */
export function docsUrl(service: Pick<ServiceStatus, 'url' | 'port'>, hostname = window.location.hostname): string {
  const url = new URL(service.url)
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost'
  // A loopback URL carries the real (possibly offset) port; a Compose name (http://orchestrator:8000) does not
  // resolve in a browser, but the service is published on the host under its seed port.
  const port = loopback ? url.port : String(service.port)
  return `${url.protocol}//${hostname}:${port}/docs`
}

const NON_API = new Set(['dashboard', 'model-server'])

function ServicesSection() {
  const overview = useQuery({ ...healthQueries.services(), refetchInterval: false })
  return (
    <>
      <Panel title="Developer resources">
        <p className="mb-3 text-sm text-muted">Every service serves interactive API documentation at /docs.</p>
        {overview.isPending && <Loading />}
        {overview.isError && <ErrorNotice title="Could not list the services" error={overview.error} onRetry={() => void overview.refetch()} />}
        <ul className="grid gap-2 sm:grid-cols-2">
          {overview.data?.services
            .filter((service) => !NON_API.has(service.name) && service.state !== 'disabled')
            .map((service) => (
              <li key={service.name}>
                <a
                  href={docsUrl(service)}
                  target="_blank"
                  rel="noreferrer"
                  className="flex items-center justify-between gap-2 rounded-md border border-line px-3 py-2 text-sm hover:border-teal-500"
                >
                  <span>
                    <span className="font-medium">{service.name}</span>
                    <span className="ml-2 font-mono text-xs text-muted">:{new URL(docsUrl(service)).port}</span>
                  </span>
                  <ExternalLink className="h-3.5 w-3.5 text-muted" aria-hidden />
                  <span className="sr-only">(opens in a new tab)</span>
                </a>
              </li>
            ))}
        </ul>
      </Panel>
    </>
  )
}
