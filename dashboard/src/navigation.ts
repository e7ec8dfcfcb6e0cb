import { Activity, Boxes, Brain, ChartColumn, Cpu, KeyRound, LifeBuoy, ListChecks, MessageSquare, Plug, Settings, Target, type LucideIcon } from 'lucide-react'

// Separate from the line above so parallel edits of the sidebar do not collide.
import { Hammer, MessageCircleExclamationPoint } from 'lucide-react'
import { Rss } from 'lucide-react'

export interface NavItem {
  path: string
  label: string
  icon: LucideIcon
}

// The sidebar, in order.
export const NAV_ITEMS: NavItem[] = [
  { path: '/', label: 'Chat', icon: MessageSquare },
  { path: '/tasks', label: 'Tasks', icon: ListChecks },
  { path: '/pods', label: 'Pods', icon: Boxes },
  { path: '/goals', label: 'Goals', icon: Target },
  { path: '/keys', label: 'Keys', icon: KeyRound },
  { path: '/usage', label: 'Usage', icon: ChartColumn },
  { path: '/models', label: 'Models', icon: Cpu },
  { path: '/mcp', label: 'MCP', icon: Plug },
  { path: '/memory', label: 'Memory', icon: Brain },
  { path: '/sources', label: 'Sources', icon: Rss },
  { path: '/tools', label: 'Tools', icon: Hammer },
  { path: '/friction', label: 'Friction', icon: MessageCircleExclamationPoint },
  { path: '/settings', label: 'Settings', icon: Settings },
  { path: '/status', label: 'Status', icon: Activity },
  { path: '/recovery', label: 'Recovery', icon: LifeBuoy },
]
