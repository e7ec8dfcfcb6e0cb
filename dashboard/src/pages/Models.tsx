import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { FlaskConical, RefreshCw } from 'lucide-react'
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
import { Button } from '../components/Button'
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
