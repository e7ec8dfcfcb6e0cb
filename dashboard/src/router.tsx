import { createBrowserRouter, Outlet } from 'react-router'

import { Layout } from './components/Layout'
import { RouteError } from './components/RouteError'
import { StartupGate } from './components/StartupGate'
import { OnboardingGate } from './components/OnboardingGate'
import { NotFound } from './pages/NotFound'

function Root() {
  return (
    <StartupGate>
      <OnboardingGate>
        <Layout />
      </OnboardingGate>
    </StartupGate>
  )
}

function OnboardingRoot() {
  return (
    <StartupGate>
      <Outlet />
    </StartupGate>
  )
}

// Every page is its own chunk (`lazy`), so the first load carries the layout and the page it opens only;
// each page module exports `Component`, which is what a lazy route resolves to.
export const router = createBrowserRouter([
  {
    path: '/onboarding',
    Component: OnboardingRoot,
    ErrorBoundary: RouteError,
    children: [{ index: true, lazy: () => import('./pages/Onboarding') }],
  },
  {
    path: '/',
    Component: Root,
    ErrorBoundary: RouteError,
    children: [
      { index: true, lazy: () => import('./pages/Chat') },
      { path: 'tasks', lazy: () => import('./pages/Tasks') },
      { path: 'pods', lazy: () => import('./pages/Pods') },
      { path: 'goals', lazy: () => import('./pages/Goals') },
      { path: 'goals/:goalId', lazy: () => import('./pages/GoalDetail') },
      { path: 'keys', lazy: () => import('./pages/Keys') },
      { path: 'usage', lazy: () => import('./pages/Usage') },
      { path: 'models', lazy: () => import('./pages/Models') },
      { path: 'mcp', lazy: () => import('./pages/Mcp') },
      { path: 'tools', lazy: () => import('./pages/ToolPermissions') },
      { path: 'friction', lazy: () => import('./pages/Friction') },
      { path: 'memory', lazy: () => import('./pages/Memory') },
      { path: 'sources', lazy: () => import('./pages/Sources') },
      { path: 'settings', lazy: () => import('./pages/Settings') },
      { path: 'status', lazy: () => import('./pages/Status') },
      { path: 'recovery', lazy: () => import('./pages/Recovery') },
      { path: '*', Component: NotFound },
    ],
  },
])
