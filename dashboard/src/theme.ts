import { useCallback, useSyncExternalStore } from 'react'

export type ThemeChoice = 'light' | 'dark' | 'system'

// index.html reads the same key before the first paint.
const STORAGE_KEY = 'nova.theme'
const darkQuery = () => window.matchMedia?.('(prefers-color-scheme: dark)')
const listeners = new Set<() => void>()

function readChoice(): ThemeChoice {
  const saved = localStorage.getItem(STORAGE_KEY)
  return saved === 'light' || saved === 'dark' ? saved : 'system'
}

function applyChoice(choice: ThemeChoice): void {
  const dark = choice === 'dark' || (choice === 'system' && Boolean(darkQuery()?.matches))
  document.documentElement.classList.toggle('dark', dark)
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  // "system" follows the OS switching between light and dark while the page is open.
  const query = darkQuery()
  const onSystemChange = () => {
    if (readChoice() === 'system') applyChoice('system')
  }
  query?.addEventListener('change', onSystemChange)
  return () => {
    listeners.delete(listener)
    query?.removeEventListener('change', onSystemChange)
  }
}

export function useTheme(): [ThemeChoice, (choice: ThemeChoice) => void] {
  const choice = useSyncExternalStore(subscribe, readChoice)
  const setChoice = useCallback((next: ThemeChoice) => {
    if (next === 'system') localStorage.removeItem(STORAGE_KEY)
    else localStorage.setItem(STORAGE_KEY, next)
    applyChoice(next)
    listeners.forEach((listener) => listener())
  }, [])
  return [choice, setChoice]
}
