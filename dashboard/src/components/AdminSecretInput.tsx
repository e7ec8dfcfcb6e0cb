import { useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'

import { getAdminSecret, setAdminSecret } from '../api/client'

/** Stores the admin secret that `apiFetch` sends as `X-Admin-Secret`; an empty value forgets it. */
export function AdminSecretInput() {
  const queryClient = useQueryClient()
  const [value, setValue] = useState(() => getAdminSecret() ?? '')
  const [saved, setSaved] = useState(true)

  function save(event: FormEvent) {
    event.preventDefault()
    setAdminSecret(value.trim())
    setSaved(true)
    // Requests refused with the old secret should not wait for their next poll.
    void queryClient.invalidateQueries()
  }

  return (
    <form onSubmit={save} className="flex items-center gap-2">
      <input
        type="password"
        aria-label="Admin secret"
        placeholder="Admin secret"
        autoComplete="off"
        value={value}
        onChange={(event) => {
          setValue(event.target.value)
          setSaved(false)
        }}
        className="w-44 rounded-md border border-stone-700 bg-stone-900 px-2 py-1 text-sm placeholder:text-stone-500 focus:border-teal-500 focus:outline-none"
      />
      <button
        type="submit"
        disabled={saved}
        className="rounded-md bg-teal-600 px-3 py-1 text-sm font-medium text-white hover:bg-teal-500 disabled:bg-stone-800 disabled:text-stone-500"
      >
        Save
      </button>
    </form>
  )
}
