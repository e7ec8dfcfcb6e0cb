import { Lock, LockOpen, Menu, Monitor, Moon, Sun, X } from 'lucide-react'
import { useEffect, useState } from 'react'
import { NavLink, Outlet, useLocation } from 'react-router'

import { getAdminSecret, onUnauthorized } from '../api/client'
import { NAV_ITEMS } from '../navigation'
import { useTheme, type ThemeChoice } from '../theme'
import { AdminSecretDialog } from './AdminSecretDialog'
import { FrictionReportButton } from './FrictionReport'
import { NeedsYouBadge, TaskNotifications } from './Notifications'
import { Toaster } from './Toaster'

export function Layout() {
  const [menuOpen, setMenuOpen] = useState(false)
  const location = useLocation()
  const secretPrompt = useSecretPrompt()

  // A phone's menu covers the page; close it once the user has picked where to go.
  useEffect(() => setMenuOpen(false), [location.pathname])

  return (
    <div className="min-h-dvh md:flex">
      <a
        href="#main"
        className="sr-only z-50 rounded-md bg-panel px-3 py-2 focus:not-sr-only focus:fixed focus:top-2 focus:left-2"
      >
        Skip to content
      </a>

      <header className="sticky top-0 z-30 flex items-center justify-between border-b border-line bg-panel px-4 py-2 md:hidden">
        <Brand />
        <button
          type="button"
          onClick={() => setMenuOpen((open) => !open)}
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          aria-label={menuOpen ? 'Close menu' : 'Open menu'}
          className="rounded-md p-2 text-muted hover:bg-sunken hover:text-fg"
        >
          {menuOpen ? <X className="h-5 w-5" aria-hidden /> : <Menu className="h-5 w-5" aria-hidden />}
        </button>
      </header>

      <aside
        id="sidebar"
        className={`${menuOpen ? 'fixed inset-x-0 top-[53px] bottom-0 z-30 flex' : 'hidden'} flex-col border-r border-line bg-panel md:sticky md:top-0 md:flex md:h-dvh md:w-56 md:shrink-0`}
      >
        <div className="hidden px-4 pt-4 pb-2 md:block">
          <Brand />
        </div>
        <nav aria-label="Main" className="flex-1 overflow-y-auto px-2 py-2">
          <ul className="space-y-0.5">
            {NAV_ITEMS.map(({ path, label, icon: Icon }) => (
              <li key={path}>
                <NavLink
                  to={path}
                  end={path === '/'}
                  className={({ isActive }) =>
                    `flex items-center gap-2.5 rounded-md px-3 py-2 text-sm font-medium ${
                      isActive ? 'bg-accent-soft text-accent-text' : 'text-muted hover:bg-sunken hover:text-fg'
                    }`
                  }
                >
                  <Icon className="h-4 w-4" aria-hidden />
                  {label}
                  {path === '/tasks' && <NeedsYouBadge />}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="space-y-2 border-t border-line p-3">
          <button
            type="button"
            onClick={() => secretPrompt.open(null)}
            className="flex w-full items-center gap-2 rounded-md px-2 py-1.5 text-sm text-muted hover:bg-sunken hover:text-fg"
          >
            {secretPrompt.hasSecret ? <Lock className="h-4 w-4" aria-hidden /> : <LockOpen className="h-4 w-4" aria-hidden />}
            {secretPrompt.hasSecret ? 'Admin secret set' : 'Enter admin secret'}
          </button>
          <FrictionReportButton />
          <ThemeSwitch />
        </div>
      </aside>

      <main id="main" tabIndex={-1} className="min-w-0 flex-1 focus:outline-none">
        {secretPrompt.needed && !secretPrompt.isOpen && (
          <div role="alert" className="flex flex-wrap items-center justify-between gap-2 border-b border-amber-300 bg-amber-50 px-4 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100">
            <span>The server refused a request: {secretPrompt.reason ?? 'the admin secret is missing or wrong'}.</span>
            <button type="button" onClick={() => secretPrompt.open(secretPrompt.reason)} className="font-semibold underline">
              Enter admin secret
            </button>
          </div>
        )}
        <Outlet />
      </main>

      {secretPrompt.isOpen && <AdminSecretDialog reason={secretPrompt.reason} onClose={secretPrompt.close} onSaved={secretPrompt.saved} />}
      <Toaster />
      <TaskNotifications />
    </div>
  )
}

function Brand() {
  return (
    <span className="flex items-center gap-2 text-lg font-semibold tracking-tight text-accent-text">
      <span aria-hidden className="inline-block h-2.5 w-2.5 rounded-full bg-teal-500" />
      Nova
    </span>
  )
}

/**
 * Opens the admin secret dialog when a request comes back 401. If the user closes it without saving, later
 * 401s (pages poll) show a banner instead of reopening the dialog over their work.
 */
function useSecretPrompt() {
  const [isOpen, setOpen] = useState(false)
  const [reason, setReason] = useState<string | null>(null)
  const [needed, setNeeded] = useState(false)
  const [dismissed, setDismissed] = useState(false)
  const [hasSecret, setHasSecret] = useState(() => Boolean(getAdminSecret()))

  useEffect(
    () =>
      onUnauthorized((error) => {
        setReason(error.detail)
        setNeeded(true)
        if (!dismissed) setOpen(true)
      }),
    [dismissed],
  )

  return {
    isOpen,
    reason,
    needed,
    hasSecret,
    open: (why: string | null) => {
      setReason(why)
      setOpen(true)
    },
    close: () => {
      // Dismissed: a refusal stays as a banner, and later 401s do not reopen the dialog over the page.
      setOpen(false)
      setDismissed(true)
    },
    saved: () => {
      setOpen(false)
      setHasSecret(Boolean(getAdminSecret()))
      // A new secret clears the refusal; if it is wrong too, the next 401 prompts again.
      setNeeded(false)
      setDismissed(false)
    },
  }
}

const THEMES: { value: ThemeChoice; label: string; icon: typeof Sun }[] = [
  { value: 'light', label: 'Light', icon: Sun },
  { value: 'dark', label: 'Dark', icon: Moon },
  { value: 'system', label: 'System', icon: Monitor },
]

function ThemeSwitch() {
  const [theme, setTheme] = useTheme()
  return (
    <fieldset className="flex items-center gap-1">
      <legend className="sr-only">Theme</legend>
      {THEMES.map(({ value, label, icon: Icon }) => (
        <label
          key={value}
          title={label}
          className={`flex flex-1 cursor-pointer items-center justify-center rounded-md p-1.5 has-focus-visible:outline-2 has-focus-visible:outline-teal-500 ${
            theme === value ? 'bg-accent-soft text-accent-text' : 'text-muted hover:bg-sunken'
          }`}
        >
          <input
            type="radio"
            name="theme"
            value={value}
            checked={theme === value}
            onChange={() => setTheme(value)}
            className="sr-only"
          />
          <Icon className="h-4 w-4" aria-hidden />
          <span className="sr-only">{label}</span>
        </label>
      ))}
    </fieldset>
  )
}
