import type { ButtonHTMLAttributes } from 'react'

import { Spinner } from './Spinner'

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost'
type Size = 'sm' | 'md'

const variants: Record<Variant, string> = {
  primary: 'bg-accent text-white hover:bg-accent-hover disabled:bg-line disabled:text-muted',
  secondary: 'border border-line-strong bg-panel text-fg hover:bg-sunken disabled:text-faint',
  danger: 'bg-rose-700 text-white hover:bg-rose-600 disabled:bg-line disabled:text-muted',
  ghost: 'text-muted hover:bg-sunken hover:text-fg disabled:text-faint',
}

const sizes: Record<Size, string> = {
  sm: 'gap-1 px-2 py-1 text-xs',
  md: 'gap-1.5 px-3 py-1.5 text-sm',
}

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: Variant
  size?: Size
  /** A request is in flight: the button shows a spinner and cannot be pressed twice. */
  busy?: boolean
}

export function Button({
  variant = 'secondary',
  size = 'md',
  busy = false,
  type = 'button',
  disabled,
  className = '',
  children,
  ...props
}: ButtonProps) {
  return (
    <button
      type={type}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      className={`inline-flex items-center justify-center rounded-md font-medium transition-colors disabled:cursor-not-allowed ${variants[variant]} ${sizes[size]} ${className}`}
      {...props}
    >
      {busy && <Spinner className="h-3.5 w-3.5" label={null} />}
      {children}
    </button>
  )
}
