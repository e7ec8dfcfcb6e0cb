import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { FlaskConical, Play, RefreshCw, Square } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import { configApi, configQueries, configValue, providerKeyEntry, type ConfigEntry } from '../api/config'
import {
  chatModels,
  modelsApi,
  modelsQueries,
  type GatewayConfig,
  type GatewayConfigUpdate,
  type InferenceBackend,
  type InferenceState,
  type ProviderStatus,
  type ProviderTestResult,
  type RoutingStrategy,
} from '../api/models'
import { recoveryApi, recoveryQueries, type BackendState, type Hardware, type InferenceBackendStatus, type InferenceSwitchPhase } from '../api/recovery'
import { Button } from '../components/Button'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { FormError, SelectField, TextField } from '../components/Field'
import { Page, PageHeader, Panel } from '../components/Page'
import { ProviderKeyForm } from '../components/ProviderKeyForm'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { count, milliseconds } from '../format'
import { toast } from '../toast'

const STRATEGIES: { value: RoutingStrategy; label: string; help: string }[] = [
  { value: 'local-only', label: 'Local only', help: 'Never leave this machine; fail when the local model cannot answer.' },
  { value: 'local-first', label: 'Local first', help: 'Use the local model, fall back to cloud providers.' },
  { value: 'cloud-first', label: 'Cloud first', help: 'Use cloud providers, fall back to the local model.' },
  { value: 'cloud-only', label: 'Cloud only', help: 'Never use the local model.' },
]
const BACKENDS: InferenceBackend[] = ['auto', 'ollama', 'vllm', 'sglang', 'llamacpp', 'custom', 'none']
const stateTone: Record<InferenceState, string> = {
  ready: badgeTone.good,
  starting: badgeTone.warn,
  draining: badgeTone.warn,
  error: badgeTone.bad,
  stopped: badgeTone.neutral,
}

/** Models: routing, the local inference slot and its figures, providers with a test button, their models. */
export function Component() {
  const gateway = useQuery(modelsQueries.gatewayConfig())
  return (
    <Page>
      <PageHeader title="Models" description="Where Nova's requests go: the local model slot and the cloud providers llm-gateway can reach, with their keys." />
      <div className="space-y-6">
        <RoutingPanel gateway={gateway.data} />
        <Panel title="Local inference">
          {gateway.isPending && <Loading label="Asking the gateway…" />}
          {gateway.isError && <ErrorNotice title="Could not read the gateway's configuration" error={gateway.error} onRetry={() => void gateway.refetch()} />}
          {gateway.data && <LocalInferenceForm config={gateway.data} />}
          <InferenceStatsView />
        </Panel>
        <ModelServerPanel />
        <Providers />
      </div>
    </Page>
  )
}

/**
 * Strategy and default model are platform settings: the orchestrator stores them and mirrors them to the
 * Redis keys the gateway reads, so they survive restarts. The gateway's own view is shown beside them.
 */
function RoutingPanel({ gateway }: { gateway: GatewayConfig | undefined }) {
  const queryClient = useQueryClient()
  const entries = useQuery(configQueries.entries())
  const models = useQuery(modelsQueries.models())
  const strategy = configValue<RoutingStrategy>(entries.data, 'llm.routing_strategy', 'local-first')
  const defaultModel = configValue<string | null>(entries.data, 'llm.default_chat_model', null)
  const save = useMutation({
    mutationFn: ([key, value]: [string, unknown]) => configApi.update(key, value),
    onSuccess: () => {
      toast.success('Routing saved')
      void queryClient.invalidateQueries({ queryKey: configQueries.all })
      // The gateway re-reads Redis every few seconds; ask again after that.
      setTimeout(() => void queryClient.invalidateQueries({ queryKey: modelsQueries.all }), 4_000)
    },
  })

  return (
    <Panel title="Routing">
      {entries.isPending && <Loading />}
      {entries.isError && <ErrorNotice title="Could not load the routing settings" error={entries.error} onRetry={() => void entries.refetch()} />}
      {entries.isSuccess && (
        <div className="space-y-4">
          <fieldset>
            <legend className="mb-2 text-sm font-medium">Strategy</legend>
            <div className="grid gap-2 sm:grid-cols-2">
              {STRATEGIES.map((option) => (
                <label
                  key={option.value}
                  className={`flex cursor-pointer gap-2 rounded-md border p-3 text-sm has-focus-visible:outline-2 has-focus-visible:outline-teal-500 ${
                    strategy === option.value ? 'border-teal-500 bg-accent-soft' : 'border-line hover:bg-sunken'
                  }`}
                >
                  <input
                    type="radio"
                    name="strategy"
                    className="mt-0.5 accent-teal-600"
                    checked={strategy === option.value}
                    disabled={save.isPending}
                    onChange={() => save.mutate(['llm.routing_strategy', option.value])}
                  />
                  <span>
                    <span className="block font-medium">{option.label}</span>
                    <span className="block text-muted">{option.help}</span>
                  </span>
                </label>
              ))}
            </div>
          </fieldset>
          <SelectField
            label="Default chat model"
            className="max-w-md"
            value={defaultModel ?? ''}
            disabled={save.isPending}
            hint={models.isError ? `The model list is unavailable: ${errorMessage(models.error)}` : 'Used by agents that name no model.'}
            onChange={(event) => save.mutate(['llm.default_chat_model', event.target.value || null])}
          >
            <option value="">Chosen by the strategy</option>
            {defaultModel && !chatModels(models.data).some((m) => m.id === defaultModel) && <option value={defaultModel}>{defaultModel} (not available now)</option>}
            {chatModels(models.data).map((model) => (
              <option key={`${model.provider}/${model.id}`} value={model.id}>
                {model.id} ({model.provider})
              </option>
            ))}
          </SelectField>
          {gateway && (
            <p className="text-xs text-muted">
              The gateway is routing <span className="font-medium">{gateway.routing_strategy}</span>
              {gateway.default_chat_model ? <> with default model {gateway.default_chat_model}</> : null}; embeddings use {gateway.default_embed_model}.
            </p>
          )}
        </div>
      )}
    </Panel>
  )
}

function LocalInferenceForm({ config }: { config: GatewayConfig }) {
  const queryClient = useQueryClient()
  const [backend, setBackend] = useState<InferenceBackend>(config.inference_backend)
  const [url, setUrl] = useState(config.inference_url)
  const [auth, setAuth] = useState('')
  const [urlError, setUrlError] = useState<string | null>(null)
  const save = useMutation({
    mutationFn: modelsApi.updateGateway,
    meta: { errorToast: false },
    onSuccess: () => {
      setAuth('')
      toast.success('Local inference saved')
      void queryClient.invalidateQueries({ queryKey: modelsQueries.all })
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const trimmed = url.trim()
    if (trimmed && !/^https?:\/\/\S+$/.test(trimmed)) return setUrlError('An http:// or https:// URL, or empty for the default.')
    setUrlError(null)
    const patch: GatewayConfigUpdate = {}
    if (backend !== config.inference_backend) patch.inference_backend = backend
    if (trimmed !== config.inference_url) patch.inference_url = trimmed
    // Write-only: the gateway never sends the header back, so an empty box keeps the current one.
    if (auth) patch.inference_auth_header = auth
    if (Object.keys(patch).length === 0) return void toast.info('Nothing changed')
    save.mutate(patch)
  }

  return (
    <form onSubmit={submit} className="mb-6 space-y-4" noValidate>
      <p className="flex items-center gap-2 text-sm">
        State <Badge className={stateTone[config.inference_state]}>{config.inference_state}</Badge>
      </p>
      <div className="grid gap-4 sm:grid-cols-[12rem_1fr]">
        <SelectField label="Backend" value={backend} onChange={(event) => setBackend(event.target.value as InferenceBackend)}>
          {BACKENDS.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </SelectField>
        <TextField
          label="URL"
          type="url"
          value={url}
          error={urlError}
          placeholder="http://127.0.0.1:11434"
          hint="Where the local model server answers (Ollama or any OpenAI-compatible server)."
          onChange={(event) => setUrl(event.target.value)}
        />
      </div>
      <TextField
        label="Authorization header"
        type="password"
        autoComplete="off"
        className="max-w-md"
        value={auth}
        placeholder={config.inference_auth_configured ? 'set; leave empty to keep it' : 'none'}
        hint="Sent to the local server as Authorization, e.g. Bearer …"
        onChange={(event) => setAuth(event.target.value)}
      />
      <FormError message={save.error ? errorMessage(save.error) : null} />
      <Button type="submit" variant="primary" busy={save.isPending}>
        Save local inference
      </Button>
    </form>
  )
}

/** Megabytes (as recovery reports memory and disk) in the unit people read them in. */
function megabytes(mb: number | null | undefined): string {
  if (mb == null) return '—'
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${mb} MB`
}

/**
 * The machine the local model runs on (recovery's view: CPU, RAM, disk, GPUs), the backend and model that
 * fit it, and the local model server's start/stop. Stopping waits for the gateway's in-flight local
 * requests to finish first (bounded), so nobody's answer is cut off.
 */
function ModelServerPanel() {
  const queryClient = useQueryClient()
  const hardware = useQuery(recoveryQueries.hardware())
  const recommendation = useQuery(recoveryQueries.recommendation())
  const [confirmStop, setConfirmStop] = useState(false)
  const [last, setLast] = useState<BackendState | null>(null)
  const onChanged = (state: BackendState) => {
    setLast(state)
    setConfirmStop(false)
    toast.success(state.running ? `${state.service} started` : `${state.service} stopped`)
    void queryClient.invalidateQueries({ queryKey: recoveryQueries.backend().queryKey })
    // The gateway notices the slot's new state at its next probe; ask it again after that.
    setTimeout(() => void queryClient.invalidateQueries({ queryKey: modelsQueries.all }), 4_000)
  }
  const start = useMutation({ mutationFn: recoveryApi.startBackend, meta: { errorToast: false }, onSuccess: onChanged })
  const stop = useMutation({ mutationFn: recoveryApi.stopBackend, meta: { errorToast: false }, onSuccess: onChanged })
  const failure = start.error ?? stop.error

  return (
    <Panel
      title="Local model server"
      actions={
        <div className="flex gap-2">
          <Button size="sm" onClick={() => start.mutate()} busy={start.isPending} disabled={stop.isPending}>
            <Play className="h-3.5 w-3.5" aria-hidden /> Start model server
          </Button>
          <Button size="sm" onClick={() => setConfirmStop(true)} busy={stop.isPending} disabled={start.isPending}>
            <Square className="h-3.5 w-3.5" aria-hidden /> Stop model server
          </Button>
        </div>
      }
    >
      {last && (
        <p role="status" className="mb-3 rounded-md bg-sunken px-3 py-2 text-sm">
          {last.service} is {last.running ? 'running' : 'stopped'}
          {!last.running && (last.drained ? ' after its requests finished' : '')}
          {last.detail ? `: ${last.detail}` : '.'}
        </p>
      )}
      {!confirmStop && failure && (
        <p role="alert" className="mb-3 text-sm text-rose-700 dark:text-rose-300">
          {errorMessage(failure)}
        </p>
      )}
      <BackendSwitch />
      {hardware.isPending && <Loading label="Looking at this machine…" />}
      {hardware.isError && <ErrorNotice title="Could not read this machine's hardware" error={hardware.error} onRetry={() => void hardware.refetch()} />}
      {hardware.data && <HardwareView hardware={hardware.data} />}
      {recommendation.data && (
        <p className="mt-3 text-sm" data-testid="backend-recommendation">
          Recommended here: <span className="font-medium">{recommendation.data.backend}</span> with <span className="font-mono text-xs">{recommendation.data.model}</span>{' '}
          <span className="text-muted">({recommendation.data.reason})</span>
        </p>
      )}
      {confirmStop && (
        <ConfirmDialog
          title="Stop the local model server?"
          confirmLabel="Stop model server"
          busy={stop.isPending}
          error={stop.error ? errorMessage(stop.error) : null}
          onConfirm={() => stop.mutate()}
          onCancel={() => {
            setConfirmStop(false)
            stop.reset()
          }}
        >
          Requests it is answering are given time to finish first. Until it is started again, requests for the local model go to cloud providers or fail, as the
          routing strategy says.
        </ConfirmDialog>
      )}
    </Panel>
  )
}

const SWITCH_PHASE: Record<InferenceSwitchPhase, string> = {
  pulling: 'Downloading the model',
  draining: 'Letting running requests finish',
  stopping: 'Stopping the old server',
  starting: 'Starting the new server',
  loading: 'Loading the model',
  ready: 'Ready',
  rolling_back: 'Failed; putting the previous backend back',
  failed: 'Failed',
}

/**
 * What the gateway routes local requests to, and a switch to another backend or model: recovery drains the
 * running requests, stops the old server, starts the new one and publishes it to the gateway, in the
 * background; the status is polled while it runs.
 */
function BackendSwitch() {
  const status = useQuery(recoveryQueries.backend())
  if (status.isPending) return <Loading label="Asking recovery about the model server…" />
  if (status.isError) return <ErrorNotice title="Could not read the local backend's state" error={status.error} onRetry={() => void status.refetch()} />
  return <BackendSwitchForm status={status.data} />
}

function BackendSwitchForm({ status }: { status: InferenceBackendStatus }) {
  const queryClient = useQueryClient()
  const options = status.options
  const [backend, setBackend] = useState(() => (options.some((o) => o.backend === status.backend) ? status.backend : (options[0]?.backend ?? '')))
  const option = options.find((o) => o.backend === backend)
  const [model, setModel] = useState(() => (status.model && option?.models.includes(status.model) ? status.model : (option?.models[0] ?? '')))
  const [path, setPath] = useState('')
  const switching = useMutation({
    mutationFn: ({ to, name }: { to: string; name: string }) => recoveryApi.switchBackend(to, name),
    meta: { errorToast: false },
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: recoveryQueries.backend().queryKey }),
  })
  const last = status.last_switch

  function submit(event: FormEvent) {
    event.preventDefault()
    const name = path.trim() || model
    if (backend && name) switching.mutate({ to: backend, name })
  }

  return (
    <div className="mb-4 space-y-3">
      <p className="flex flex-wrap items-center gap-2 text-sm" data-testid="backend-status">
        The gateway routes local requests to <span className="font-medium">{status.backend}</span>
        <Badge className={status.state === 'ready' ? badgeTone.good : badgeTone.warn}>{status.state}</Badge>
        {status.model && <span className="font-mono text-xs">{status.model}</span>}
        {status.url && <span className="text-muted">at {status.url}</span>}
      </p>
      {last && (
        <p role="status" aria-label="Last switch" className="rounded-md bg-sunken px-3 py-2 text-sm">
          {status.switching ? 'Switching' : 'Last switch'} to {last.backend} with <span className="font-mono text-xs">{last.model}</span>: {SWITCH_PHASE[last.phase]}
          {status.switching && '…'}
          {last.detail ? ` (${last.detail})` : ''}
        </p>
      )}
      {status.manager === null ? (
        <p className="text-sm text-muted">Recovery manages no model server here: run Nova with `make run`, or give recovery the Docker socket under Compose.</p>
      ) : options.length > 0 ? (
        <form onSubmit={submit} className="grid items-end gap-3 sm:grid-cols-[10rem_1fr_auto]" noValidate>
          <SelectField
            label="Switch to backend"
            value={backend}
            onChange={(event) => {
              const next = options.find((o) => o.backend === event.target.value)
              setBackend(event.target.value)
              setModel(next?.models[0] ?? '')
            }}
          >
            {options.map((o) => (
              <option key={o.backend} value={o.backend}>
                {o.backend}
              </option>
            ))}
          </SelectField>
          {option?.accepts_path ? (
            <div className="grid gap-3 sm:grid-cols-2">
              <SelectField label="Model" value={model} disabled={Boolean(path.trim())} onChange={(event) => setModel(event.target.value)}>
                {option.models.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </SelectField>
              <TextField label="Or a .gguf file" placeholder="/models/qwen2.5-1.5b-q4_k_m.gguf" value={path} onChange={(event) => setPath(event.target.value)} />
            </div>
          ) : (
            <SelectField label="Model" value={model} onChange={(event) => setModel(event.target.value)}>
              {(option?.models ?? []).map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </SelectField>
          )}
          <Button type="submit" variant="primary" busy={switching.isPending || status.switching} disabled={!backend || !(path.trim() || model)}>
            Switch
          </Button>
        </form>
      ) : null}
      <FormError message={switching.error ? errorMessage(switching.error) : null} />
    </div>
  )
}

function HardwareView({ hardware }: { hardware: Hardware }) {
  const figures: [string, string][] = [
    ['CPU', `${hardware.cpu_count} cores${hardware.cpu_model ? ` · ${hardware.cpu_model}` : ''}`],
    ['RAM free', `${megabytes(hardware.ram_available_mb)} of ${megabytes(hardware.ram_total_mb)}`],
    ['Disk free', `${megabytes(hardware.disk_free_mb)} of ${megabytes(hardware.disk_total_mb)}`],
  ]
  return (
    <div>
      <dl className="grid gap-2 sm:grid-cols-3" aria-label="Hardware">
        {figures.map(([label, value]) => (
          <div key={label} className="min-w-0 rounded-md bg-sunken px-3 py-2">
            <dt className="text-xs text-muted">{label}</dt>
            <dd className="text-sm font-semibold break-words">{value}</dd>
          </div>
        ))}
      </dl>
      <ul className="mt-2 space-y-1 text-sm" aria-label="GPUs">
        {hardware.gpus.length === 0 && <li className="text-muted">No GPU found (nvidia-smi and rocm-smi answer nothing here).</li>}
        {hardware.gpus.map((gpu, index) => (
          <li key={`${gpu.name}-${index}`}>
            <Badge className={badgeTone.accent}>{gpu.vendor}</Badge> {gpu.name}
            {gpu.memory_total_mb != null && (
              <span className="text-muted">
                {' '}
                · {megabytes(gpu.memory_total_mb)} memory{gpu.memory_used_mb != null ? `, ${megabytes(gpu.memory_used_mb)} used` : ''}
              </span>
            )}
          </li>
        ))}
      </ul>
    </div>
  )
}

function InferenceStatsView() {
  const stats = useQuery(modelsQueries.stats())
  if (stats.isPending) return <Loading label="Loading figures…" />
  if (stats.isError) return <ErrorNotice title="Could not load the inference figures" error={stats.error} />
  const s = stats.data
  const lookups = s.cache_hits + s.cache_misses
  const figures: [string, string][] = [
    ['Requests', count(s.requests)],
    ['Errors', count(s.errors)],
    ['Average latency', milliseconds(s.avg_latency_ms)],
    ['Time to first token', milliseconds(s.avg_ttft_ms)],
    ['Tokens per second', s.avg_tokens_per_second == null ? '—' : s.avg_tokens_per_second.toFixed(1)],
    ['In flight', count(s.inflight)],
    ['Cache hit rate', lookups ? `${Math.round((s.cache_hits / lookups) * 100)} %` : '—'],
  ]
  return (
    <div>
      <h3 className="mb-2 text-sm font-medium">
        Last {Math.round(s.window_seconds / 60)} minutes on {s.backend}
      </h3>
      <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4">
        {figures.map(([label, value]) => (
          <div key={label} className="rounded-md bg-sunken px-3 py-2">
            <dt className="text-xs text-muted">{label}</dt>
            <dd className="font-semibold tabular-nums">{value}</dd>
          </div>
        ))}
      </dl>
    </div>
  )
}

function Providers() {
  const queryClient = useQueryClient()
  const providers = useQuery(modelsQueries.providers())
  // Which providers take a key, and the masked keys; the cards still render while it loads or fails.
  const entries = useQuery(configQueries.entries())
  const rediscover = useMutation({
    mutationFn: modelsApi.rediscover,
    onSuccess: (fresh) => {
      queryClient.setQueryData(modelsQueries.providers().queryKey, fresh)
      void queryClient.invalidateQueries({ queryKey: modelsQueries.models().queryKey })
    },
  })
  const sorted = [...(providers.data ?? [])].sort((a, b) => Number(b.available) - Number(a.available))

  return (
    <Panel
      title="Providers"
      actions={
        <Button size="sm" onClick={() => rediscover.mutate()} busy={rediscover.isPending}>
          <RefreshCw className="h-3.5 w-3.5" aria-hidden /> Discover again
        </Button>
      }
    >
      {entries.isError && <ErrorNotice title="Provider keys cannot be shown" error={entries.error} onRetry={() => void entries.refetch()} />}
      {providers.isPending && <Loading label="Loading providers…" />}
      {providers.isError && <ErrorNotice title="Could not load the providers" error={providers.error} onRetry={() => void providers.refetch()} />}
      {providers.isSuccess && sorted.length === 0 && <EmptyState title="The gateway knows no providers" />}
      {sorted.length > 0 && (
        <ul className="grid gap-3 lg:grid-cols-2" aria-label="Providers">
          {sorted.map((provider) => (
            <li key={provider.slug}>
              <ProviderCard provider={provider} keyEntry={providerKeyEntry(entries.data, provider.slug)} />
            </li>
          ))}
        </ul>
      )}
    </Panel>
  )
}

function ProviderCard({ provider, keyEntry }: { provider: ProviderStatus; keyEntry: ConfigEntry | undefined }) {
  const [result, setResult] = useState<ProviderTestResult | null>(null)
  const test = useMutation({
    mutationFn: () => modelsApi.test(provider.slug),
    meta: { errorToast: false },
    onMutate: () => setResult(null),
    onSuccess: setResult,
  })
  const models = provider.models ?? []
  return (
    <article aria-labelledby={`provider-${provider.slug}`} className={`h-full rounded-md border border-line p-3 ${provider.available ? '' : 'opacity-80'}`}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div>
          <h3 id={`provider-${provider.slug}`} className="font-medium">
            {provider.name}
          </h3>
          <p className="mt-0.5 flex flex-wrap gap-1.5 text-xs">
            <Badge className={provider.available ? badgeTone.good : badgeTone.neutral}>{provider.available ? 'available' : 'unavailable'}</Badge>
            <Badge className={badgeTone.accent}>{provider.type}</Badge>
            {provider.daily_quota != null && <span className="text-muted">{count(provider.daily_quota)} requests/day</span>}
          </p>
        </div>
        <Button size="sm" onClick={() => test.mutate()} busy={test.isPending} disabled={!provider.available} aria-label={`Test ${provider.name}`}>
          <FlaskConical className="h-3.5 w-3.5" aria-hidden /> Test
        </Button>
      </div>
      {!provider.available && provider.reason && <p className="mt-2 text-sm text-muted">{provider.reason}</p>}
      {result && (
        <p
          role="status"
          className={`mt-2 rounded px-2 py-1 text-sm ${result.ok ? 'bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-100' : 'bg-rose-50 text-rose-900 dark:bg-rose-950 dark:text-rose-100'}`}
        >
          {result.ok ? `Answered in ${milliseconds(result.latency_ms)}${result.model ? ` by ${result.model}` : ''}` : `Failed: ${result.detail ?? 'no answer'}`}
        </p>
      )}
      {test.isError && <p role="alert" className="mt-2 text-sm text-rose-700 dark:text-rose-300">{errorMessage(test.error)}</p>}
      {models.length > 0 && (
        <details className="mt-2 text-sm">
          <summary className="cursor-pointer text-muted hover:text-fg">
            {models.length} {models.length === 1 ? 'model' : 'models'}
          </summary>
          <ul className="mt-1 space-y-0.5">
            {models.map((model) => (
              <li key={model.id} className="font-mono text-xs">
                {model.id}
                {!model.registered && <span className="ml-1 font-sans text-muted">(discovered)</span>}
              </li>
            ))}
          </ul>
        </details>
      )}
      {keyEntry && <ProviderKeyForm provider={provider} entry={keyEntry} />}
    </article>
  )
}
