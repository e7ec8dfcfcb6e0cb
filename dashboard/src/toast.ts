import { useSyncExternalStore } from 'react'

export type ToastKind = 'error' | 'success' | 'info'

export interface Toast {
  id: number
  kind: ToastKind
  message: string
}

// Errors stay long enough to read a server's sentence; confirmations get out of the way.
const LIFETIME_MS: Record<ToastKind, number> = { error: 8_000, success: 4_000, info: 5_000 }
const MAX_VISIBLE = 4

let toasts: Toast[] = []
let nextId = 1
const listeners = new Set<() => void>()

function publish(next: Toast[]): void {
  toasts = next
  listeners.forEach((listener) => listener())
}

function show(kind: ToastKind, message: string): number {
  const id = nextId++
  // The same sentence twice in a row (a poll failing every few seconds) is shown once.
  const rest = toasts.filter((t) => !(t.kind === kind && t.message === message))
  publish([...rest, { id, kind, message }].slice(-MAX_VISIBLE))
  setTimeout(() => dismissToast(id), LIFETIME_MS[kind])
  return id
}

export function dismissToast(id: number): void {
  if (toasts.some((t) => t.id === id)) publish(toasts.filter((t) => t.id !== id))
}

/** Clears every toast (tests start from an empty region). */
export function dismissAllToasts(): void {
  publish([])
}

export const toast = {
  error: (message: string) => show('error', message),
  success: (message: string) => show('success', message),
  info: (message: string) => show('info', message),
}

export function useToasts(): Toast[] {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    () => toasts,
  )
}
