import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Check } from 'lucide-react'
import { lazy, Suspense, useState, type FormEvent, type ReactNode } from 'react'
import { useNavigate } from 'react-router'

import { chatQueries, streamChat } from '../api/chat'
import { ApiError, apiFetch, errorMessage, getAdminSecret, setAdminSecret } from '../api/client'
import { configApi, configQueries } from '../api/config'
import { findService, healthQueries } from '../api/health'
import { Button } from '../components/Button'
import { Composer } from '../components/chat/Composer'
import { FormError, TextField } from '../components/Field'
import { ModelProviderStep } from '../components/ModelProviderStep'
import { ONBOARDED_KEY, ONBOARDING_CONFIG_KEY } from '../components/OnboardingGate'
import { ServiceTable } from '../components/ServiceTable'
import { Spinner } from '../components/Spinner'
import { ErrorNotice, Loading } from '../components/States'
import { Toaster } from '../components/Toaster'

const Markdown = lazy(() => import('../components/Markdown'))

const STEPS = ['Admin secret', 'Services', 'Model', 'First message'] as const

/** The first-visit wizard: admin secret, services, a model provider, a first message. */
export function Component() {
  const [step, setStep] = useState(() => (getAdminSecret() ? 1 : 0))
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const finish = useMutation({
    mutationFn: () => configApi.update(ONBOARDING_CONFIG_KEY, true),
    onSuccess: async () => {
      localStorage.setItem(ONBOARDED_KEY, '1')
      await queryClient.invalidateQueries({ queryKey: configQueries.all })
    },
  })

  async function complete(conversationId: string | null) {
    await finish.mutateAsync()
    navigate(conversationId ? `/?c=${conversationId}` : '/', { replace: true })
  }

  return (
    <div className="min-h-dvh">
      <header className="flex items-center justify-between border-b border-line bg-panel px-4 py-3 sm:px-6">
        <span className="flex items-center gap-2 text-lg font-semibold tracking-tight text-accent-text">
          <span aria-hidden className="inline-block h-2.5 w-2.5 rounded-full bg-teal-500" />
          Welcome to Nova
        </span>
        {step > 0 && (
          <Button variant="ghost" size="sm" onClick={() => void complete(null)} busy={finish.isPending}>
            Skip setup
          </Button>
        )}
      </header>
      <main className="mx-auto max-w-3xl px-4 py-8 sm:px-6">
        <ol aria-label="Setup steps" className="mb-8 flex flex-wrap gap-x-6 gap-y-2 text-sm">
          {STEPS.map((label, index) => (
            <li key={label} aria-current={index === step ? 'step' : undefined} className="flex items-center gap-2">
              <span
                className={`flex h-6 w-6 items-center justify-center rounded-full text-xs font-semibold ${
                  index < step ? 'bg-teal-600 text-white' : index === step ? 'bg-accent-soft text-accent-text ring-1 ring-teal-500' : 'bg-sunken text-muted'
                }`}
              >
                {index < step ? <Check className="h-3.5 w-3.5" aria-label="done" /> : index + 1}
              </span>
              <span className={index === step ? 'font-medium' : 'text-muted'}>{label}</span>
            </li>
          ))}
        </ol>
        {step === 0 && <SecretStep onDone={() => setStep(1)} />}
        {step === 1 && <ServicesStep onDone={() => setStep(2)} />}
        {step === 2 && (
          <StepFrame title="Model" intro="Nova answers with a model from one of its providers. Use the local model, or add a key for a cloud provider.">
            <ModelProviderStep onDone={() => setStep(3)} />
          </StepFrame>
        )}
        {step === 3 && <FirstMessageStep onFinish={(id) => void complete(id)} finishing={finish.isPending} />}
        <FormError message={finish.error ? errorMessage(finish.error) : null} />
      </main>
      <Toaster />
    </div>
  )
}

function StepFrame({ title, intro, children }: { title: string; intro: ReactNode; children: ReactNode }) {
  return (
    <section className="space-y-4">
      <h1 className="text-2xl font-semibold tracking-tight">
        {title}
      </h1>
      <p className="text-muted">{intro}</p>
      {children}
    </section>
  )
}

function SecretStep({ onDone }: { onDone: () => void }) {
  const queryClient = useQueryClient()
  const [secret, setSecret] = useState('')
  const [error, setError] = useState<string | null>(null)
  const check = useMutation({
    // Any admin route tells whether the secret is right; the config list is small.
    mutationFn: (candidate: string) => apiFetch('/api/v1/config', { headers: { 'X-Admin-Secret': candidate } }),
    meta: { errorToast: false },
    onSuccess: (_data, candidate) => {
      setAdminSecret(candidate)
      void queryClient.invalidateQueries()
      onDone()
    },
    onError: (err) =>
      setError(err instanceof ApiError && err.status === 401 ? 'That secret was refused. Check NOVA_ADMIN_SECRET in .env.' : errorMessage(err)),
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const value = secret.trim()
    if (!value) return setError('Paste the admin secret first.')
    check.mutate(value)
  }

  return (
    <StepFrame
      title="Admin secret"
      intro={
        <>
          The dashboard administers Nova, so it needs the admin secret. <code className="font-mono">make run</code> prints it on its
          first start and keeps it in <code className="font-mono">.env</code> as <code className="font-mono">NOVA_ADMIN_SECRET</code>.
        </>
      }
    >
      <form onSubmit={submit} className="max-w-md space-y-4" noValidate>
        <TextField
          label="Admin secret"
          type="password"
          autoComplete="off"
          autoFocus
          value={secret}
          error={error}
          onChange={(event) => {
            setSecret(event.target.value)
            setError(null)
          }}
        />
        <Button type="submit" variant="primary" busy={check.isPending}>
          Continue
        </Button>
      </form>
    </StepFrame>
  )
}

function ServicesStep({ onDone }: { onDone: () => void }) {
  const overview = useQuery(healthQueries.services())
  const orchestrator = findService(overview.data, 'orchestrator')
  const gateway = findService(overview.data, 'llm-gateway')
  const essentialsReady = orchestrator?.state === 'ready' && gateway?.state === 'ready'
  return (
    <StepFrame title="Services" intro="Nova is a set of services. Chat needs the orchestrator and the LLM gateway; the rest can follow.">
      {overview.isPending && <Loading label="Asking the recovery service…" />}
      {overview.isError && <ErrorNotice title="The recovery service did not answer" error={overview.error} onRetry={() => void overview.refetch()} />}
      {overview.data && (
        <>
          <p className="flex items-center gap-2 text-sm font-medium" role="status">
            {!essentialsReady && <Spinner className="h-4 w-4" label={null} />}
            {overview.data.ready} of {overview.data.total} services ready
          </p>
          <ServiceTable services={overview.data.services} />
        </>
      )}
      <div className="flex items-center gap-3">
        <Button variant="primary" onClick={onDone}>
          Continue
        </Button>
        {overview.data && !essentialsReady && <p className="text-sm text-muted">You can continue; chat works once both are ready.</p>}
      </div>
    </StepFrame>
  )
}

function FirstMessageStep({ onFinish, finishing }: { onFinish: (conversationId: string | null) => void; finishing: boolean }) {
  const queryClient = useQueryClient()
  const identity = useQuery(configQueries.identity())
  const [draft, setDraft] = useState('')
  const [sent, setSent] = useState<string | null>(null)
  const [answer, setAnswer] = useState('')
  const [streaming, setStreaming] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [conversationId, setConversationId] = useState<string | null>(null)
  const [controller, setController] = useState<AbortController | null>(null)
  const name = identity.data?.name ?? 'Nova'

  async function send() {
    const message = draft.trim()
    if (!message) return
    const abort = new AbortController()
    setController(abort)
    setSent(message)
    setAnswer('')
    setError(null)
    setDraft('')
    setStreaming(true)
    try {
      await streamChat(
        { message, session_id: null, model: null },
        {
          signal: abort.signal,
          onEvent: (event) => {
            if (typeof event.meta?.conversation_id === 'string') setConversationId(event.meta.conversation_id)
            if (event.delta) setAnswer((text) => text + event.delta)
            if (event.error) setError(event.error)
          },
        },
      )
    } catch (caught) {
      if (!abort.signal.aborted) {
        setError(errorMessage(caught))
        setDraft(message)
      }
    } finally {
      setStreaming(false)
      setController(null)
      void queryClient.invalidateQueries({ queryKey: chatQueries.all })
    }
  }

  return (
    <StepFrame title="First message" intro={identity.data?.greeting ?? `Say hello to ${name}.`}>
      {sent && (
        <div className="space-y-3 rounded-lg border border-line bg-panel p-4 text-sm">
          <p className="whitespace-pre-wrap">
            <span className="font-medium">You: </span>
            {sent}
          </p>
          <div data-testid="assistant-message">
            <p className="font-medium">{name}:</p>
            {answer && (
              <Suspense fallback={<p className="whitespace-pre-wrap">{answer}</p>}>
                <Markdown>{answer}</Markdown>
              </Suspense>
            )}
            {streaming && (
              <p className="mt-1 flex items-center gap-2 text-xs text-muted">
                <Spinner className="h-3 w-3" label={null} /> {answer ? 'writing…' : 'thinking…'}
              </p>
            )}
          </div>
        </div>
      )}
      <FormError message={error} />
      <Composer
        value={draft}
        onChange={setDraft}
        onSend={() => void send()}
        onStop={() => controller?.abort()}
        streaming={streaming}
        placeholder={`Message ${name}…`}
      />
      <Button variant={answer && !streaming ? 'primary' : 'secondary'} onClick={() => onFinish(conversationId)} busy={finishing} disabled={streaming}>
        Finish
      </Button>
    </StepFrame>
  )
}
