import { useMutation } from '@tanstack/react-query'
import { Dices } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { ADMIN_SECRET_MAX_LENGTH, ADMIN_SECRET_MIN_LENGTH, adminApi, type AdminSecretRotated } from '../api/admin'
import { errorMessage, getAdminSecret } from '../api/client'
import { dateTime } from '../format'
import { toast } from '../toast'
import { Button } from './Button'
import { CopyButton } from './CopyButton'
import { FormError, TextField } from './Field'

const SECRET_BYTES = 32

/** 32 random bytes as base64url (43 characters): nothing a shell or an .env file would need quoted. */
export function generateAdminSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES))
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

/** Why `secret` cannot become the admin secret, or null when it may be sent. */
export function adminSecretProblem(secret: string, current: string | null): string | null {
  if (!secret) return 'Enter the new secret.'
  if (secret.length < ADMIN_SECRET_MIN_LENGTH) return `At least ${ADMIN_SECRET_MIN_LENGTH} characters.`
  if (secret.length > ADMIN_SECRET_MAX_LENGTH) return `At most ${ADMIN_SECRET_MAX_LENGTH} characters.`
  // It travels in the X-Admin-Secret header: a browser refuses to send other characters there, and trims
  // spaces at either end, so such a secret would lock this browser out.
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(secret)) {
    return 'Use letters, digits and punctuation only (no spaces at either end, no accents or emoji).'
  }
  if (secret === current) return 'That is the secret in force now.'
  return null
}

/**
 * Change the admin secret for every Nova service (not only this browser's copy). On success the new secret
 * is stored here at once, so this browser stays signed in; the old one, and the one in .env, stop working.
 */
export function AdminSecretRotation({ onRotated }: { onRotated?: () => void }) {
  const [secret, setSecret] = useState('')
  const [confirm, setConfirm] = useState('')
  const [reveal, setReveal] = useState(false)
  const [errors, setErrors] = useState<{ secret?: string; confirm?: string }>({})
  const [rotated, setRotated] = useState<AdminSecretRotated | null>(null)
  const rotate = useMutation({
    mutationFn: adminApi.rotateSecret,
    meta: { errorToast: false },
    onMutate: () => setRotated(null),
    onSuccess: (result) => {
      setSecret('')
      setConfirm('')
      setReveal(false)
      setRotated(result)
      toast.success('Admin secret changed; this browser now uses the new one')
      onRotated?.()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: typeof errors = {}
    const problem = adminSecretProblem(secret, getAdminSecret())
    if (problem) next.secret = problem
    else if (confirm !== secret) next.confirm = 'The two entries differ.'
    setErrors(next)
    if (Object.keys(next).length === 0) rotate.mutate(secret)
  }

  function generate() {
    const fresh = generateAdminSecret()
    setSecret(fresh)
    setConfirm(fresh)
    // A generated secret must be seen to be saved somewhere else (a password manager, the .env of scripts).
    setReveal(true)
    setErrors({})
  }

  const type = reveal ? 'text' : 'password'
  return (
    <form onSubmit={submit} className="space-y-4" noValidate>
      <p className="text-sm text-muted">
        Replaces the secret on every Nova service within a few seconds. The current one stops working, including{' '}
        <code className="font-mono">NOVA_ADMIN_SECRET</code> in <code className="font-mono">.env</code>: give the new one to other
        browsers and scripts.
      </p>
      <div className="grid gap-4 sm:grid-cols-2">
        <TextField
          label="New admin secret"
          type={type}
          autoComplete="new-password"
          spellCheck={false}
          value={secret}
          error={errors.secret}
          hint={`${ADMIN_SECRET_MIN_LENGTH}–${ADMIN_SECRET_MAX_LENGTH} characters.`}
          onChange={(event) => {
            setSecret(event.target.value)
            setErrors({})
          }}
        />
        <TextField
          label="Confirm new secret"
          type={type}
          autoComplete="new-password"
          spellCheck={false}
          value={confirm}
          error={errors.confirm}
          onChange={(event) => {
            setConfirm(event.target.value)
            setErrors({})
          }}
        />
      </div>
      <div className="flex flex-wrap items-center gap-3 text-sm">
        <Button size="sm" onClick={generate}>
          <Dices className="h-3.5 w-3.5" aria-hidden /> Generate a strong secret
        </Button>
        {reveal && secret && <CopyButton text={secret} label="Copy secret" />}
        <label className="flex items-center gap-1.5">
          <input type="checkbox" className="accent-teal-600" checked={reveal} onChange={(event) => setReveal(event.target.checked)} />
          Show
        </label>
      </div>
      <FormError message={rotate.error ? errorMessage(rotate.error) : null} />
      {rotated && (
        <p role="status" className="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-900 dark:bg-emerald-950 dark:text-emerald-100">
          Changed {dateTime(rotated.rotated_at)}. This browser has the new secret; every service accepts it within a few seconds.
        </p>
      )}
      <Button type="submit" variant="primary" busy={rotate.isPending}>
        Change admin secret
      </Button>
    </form>
  )
}
