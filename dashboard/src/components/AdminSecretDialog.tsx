import { useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'

import { getAdminSecret, setAdminSecret } from '../api/client'
import { Button } from './Button'
import { TextField } from './Field'
import { Modal } from './Modal'

interface AdminSecretDialogProps {
  /** Closed without a change. */
  onClose: () => void
  /** A secret was saved (or forgotten). */
  onSaved: () => void
  /** Why the dialog opened: a refused request's detail, shown so the user knows what went wrong. */
  reason?: string | null
}

/** Asks for the admin secret `apiFetch` sends as X-Admin-Secret and keeps it in this browser's localStorage. */
export function AdminSecretDialog({ onClose, onSaved, reason }: AdminSecretDialogProps) {
  const queryClient = useQueryClient()
  const [value, setValue] = useState(() => getAdminSecret() ?? '')
  const [error, setError] = useState<string | null>(null)

  function save(event: FormEvent) {
    event.preventDefault()
    const secret = value.trim()
    if (!secret) {
      setError('Enter the secret (NOVA_ADMIN_SECRET in the .env file).')
      return
    }
    setAdminSecret(secret)
    // Everything refused with the old secret is asked again now rather than at its next poll.
    void queryClient.invalidateQueries()
    onSaved()
  }

  function forget() {
    setAdminSecret('')
    setValue('')
    void queryClient.invalidateQueries()
    onSaved()
  }

  return (
    <Modal title="Admin secret" onClose={onClose}>
      <form onSubmit={save} className="space-y-4" noValidate>
        {reason && (
          <p className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100">
            The server refused a request: {reason}
          </p>
        )}
        <p className="text-sm text-muted">
          Admin pages need <code className="font-mono">NOVA_ADMIN_SECRET</code>. <code className="font-mono">make run</code>{' '}
          prints it on first start and keeps it in <code className="font-mono">.env</code>, unless it has been changed from Settings since. It
          is stored in this browser only.
        </p>
        <TextField
          label="Secret"
          type="password"
          autoComplete="off"
          autoFocus
          value={value}
          error={error}
          onChange={(event) => {
            setValue(event.target.value)
            setError(null)
          }}
        />
        <div className="flex flex-wrap justify-between gap-2">
          <Button variant="ghost" onClick={forget} disabled={!getAdminSecret()}>
            Forget secret
          </Button>
          <div className="flex gap-2">
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" variant="primary">
              Save
            </Button>
          </div>
        </div>
      </form>
    </Modal>
  )
}
