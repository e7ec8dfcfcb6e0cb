import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { FlaskConical } from 'lucide-react'
import { useState } from 'react'

import { errorMessage } from '../api/client'
import { configApi, configQueries, providerKeyEntry } from '../api/config'
import { modelsApi, modelsQueries, type ProviderStatus, type ProviderTestResult } from '../api/models'
import { milliseconds } from '../format'
import { Button } from './Button'
import { FormError } from './Field'
import { ProviderKeyForm } from './ProviderKeyForm'
import { Badge, badgeTone } from './StateBadge'
import { ErrorNotice, Loading } from './States'

const LOCAL_SLUG = 'local'

/**
 * Onboarding's model step: pick the local model or a cloud provider the gateway can reach, after entering
 * its key here if need be. The choice becomes the routing strategy and the default chat model.
 */
export function ModelProviderStep({ onDone }: { onDone: () => void }) {
  const queryClient = useQueryClient()
  const providers = useQuery(modelsQueries.providers())
  const entries = useQuery(configQueries.entries())
  const available = (providers.data ?? []).filter((p) => p.available)
  const [picked, setPicked] = useState<string | null>(null)
  const choice = picked ?? available.find((p) => p.slug === LOCAL_SLUG)?.slug ?? available[0]?.slug ?? null
  const [test, setTest] = useState<ProviderTestResult | null>(null)
  // Open at first when nothing is reachable; then as the user leaves it, not closed under them when a key works.
  const [keysOpen, setKeysOpen] = useState<boolean | null>(null)

  const probe = useMutation({ mutationFn: modelsApi.test, onMutate: () => setTest(null), onSuccess: setTest, meta: { errorToast: false } })
  const save = useMutation({
    mutationFn: async (provider: ProviderStatus) => {
      await configApi.update('llm.routing_strategy', provider.slug === LOCAL_SLUG ? 'local-first' : 'cloud-first')
      // The picked provider's first model becomes the default, so "answer with X" means X from now on.
      const model = provider.models?.find((m) => m.registered)?.id ?? provider.models?.[0]?.id
      if (model) await configApi.update('llm.default_chat_model', model)
    },
    meta: { errorToast: false },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: configQueries.all })
      onDone()
    },
  })

  if (providers.isPending) return <Loading label="Asking the gateway which providers it can reach…" />
  if (providers.isError) {
    return (
      <div className="space-y-4">
        <ErrorNotice title="The LLM gateway did not answer" error={providers.error} onRetry={() => void providers.refetch()} />
        <Button onClick={onDone}>Continue anyway</Button>
      </div>
    )
  }

  const selected = available.find((p) => p.slug === choice)
  const cloud = (providers.data ?? []).filter((p) => p.slug !== LOCAL_SLUG)
  // Providers that take a key here stay in this list once their key works, so their form keeps its message.
  const keyed = cloud.flatMap((provider) => {
    const entry = providerKeyEntry(entries.data, provider.slug)
    return entry ? [{ provider, entry }] : []
  })
  const unreachable = cloud.filter((p) => !p.available && !providerKeyEntry(entries.data, p.slug))
  const unconfigured = cloud.filter((p) => !p.available).length
  return (
    <div className="space-y-4">
      {available.length === 0 ? (
        <p className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100">
          No provider is reachable yet: start the local model server, or add a cloud provider's key below.
        </p>
      ) : (
        <fieldset>
          <legend className="mb-2 text-sm font-medium">Answer with</legend>
          <div className="grid gap-2 sm:grid-cols-2">
            {available.map((provider) => (
              <label
                key={provider.slug}
                className={`flex cursor-pointer gap-2 rounded-md border p-3 text-sm has-focus-visible:outline-2 has-focus-visible:outline-teal-500 ${
                  choice === provider.slug ? 'border-teal-500 bg-accent-soft' : 'border-line hover:bg-sunken'
                }`}
              >
                <input
                  type="radio"
                  name="provider"
                  className="mt-0.5 accent-teal-600"
                  checked={choice === provider.slug}
                  onChange={() => {
                    setPicked(provider.slug)
                    setTest(null)
                  }}
                />
                <span>
                  <span className="flex items-center gap-2 font-medium">
                    {provider.slug === LOCAL_SLUG ? 'Local model' : provider.name}
                    <Badge className={badgeTone.accent}>{provider.type}</Badge>
                  </span>
                  <span className="block text-muted">
                    {provider.slug === LOCAL_SLUG ? 'Runs on this machine; nothing leaves it. ' : ''}
                    {(provider.models ?? []).map((m) => m.id).slice(0, 3).join(', ')}
                  </span>
                </span>
              </label>
            ))}
          </div>
        </fieldset>
      )}
      {selected && (
        <div className="flex flex-wrap items-center gap-3 text-sm">
          <Button size="sm" onClick={() => probe.mutate(selected.slug)} busy={probe.isPending}>
            <FlaskConical className="h-3.5 w-3.5" aria-hidden /> Test {selected.slug === LOCAL_SLUG ? 'the local model' : selected.name}
          </Button>
          {test && (
            <span role="status" className={test.ok ? 'text-emerald-700 dark:text-emerald-300' : 'text-rose-700 dark:text-rose-300'}>
              {test.ok ? `Answered in ${milliseconds(test.latency_ms)}` : `Failed: ${test.detail ?? 'no answer'}`}
            </span>
          )}
          {probe.isError && <span role="alert" className="text-rose-700 dark:text-rose-300">{errorMessage(probe.error)}</span>}
        </div>
      )}
      {cloud.length > 0 && (
        <details
          className="rounded-md border border-line p-3 text-sm"
          open={keysOpen ?? available.length === 0}
          onToggle={(event) => setKeysOpen(event.currentTarget.open)}
        >
          <summary className="cursor-pointer">
            Add a cloud provider ({unconfigured} of {cloud.length} not configured)
          </summary>
          {entries.isError && (
            <div className="mt-2">
              <ErrorNotice title="Provider keys cannot be entered now" error={entries.error} onRetry={() => void entries.refetch()} />
            </div>
          )}
          {keyed.length > 0 && (
            <ul className="mt-2 space-y-3" aria-label="Provider keys">
              {keyed.map(({ provider, entry }) => (
                <li key={provider.slug} className="rounded-md border border-line p-3">
                  <p className="flex flex-wrap items-center gap-2">
                    <span className="font-medium">{provider.name}</span>
                    <Badge className={provider.available ? badgeTone.good : badgeTone.neutral}>{provider.available ? 'available' : 'unavailable'}</Badge>
                  </p>
                  <ProviderKeyForm provider={provider} entry={entry} />
                </li>
              ))}
            </ul>
          )}
          {unreachable.length > 0 && (
            <>
              <p className="mt-3 text-muted">These are configured in the gateway's environment (.env) only:</p>
              <ul className="mt-1 space-y-1">
                {unreachable.map((provider) => (
                  <li key={provider.slug}>
                    <span className="font-medium">{provider.name}</span>
                    {provider.reason && <span className="text-muted"> — {provider.reason}</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
        </details>
      )}
      <FormError message={save.error ? errorMessage(save.error) : null} />
      <Button variant="primary" onClick={() => (selected ? save.mutate(selected) : onDone())} busy={save.isPending}>
        Continue
      </Button>
    </div>
  )
}
