import type { ReactNode } from 'react'

import { Button } from './Button'
import { FormError } from './Field'
import { Modal } from './Modal'

interface ConfirmDialogProps {
  title: string
  children: ReactNode
  confirmLabel: string
  onConfirm: () => void
  onCancel: () => void
  busy?: boolean
  error?: string | null
  /** `primary` for an action that destroys nothing (re-queue); `danger` otherwise. */
  tone?: 'danger' | 'primary'
}

/** "Are you sure?" for destructive or weighty actions; the confirm button says what will happen ("Revoke key"). */
export function ConfirmDialog({ title, children, confirmLabel, onConfirm, onCancel, busy, error, tone = 'danger' }: ConfirmDialogProps) {
  return (
    <Modal title={title} onClose={onCancel}>
      <div className="space-y-4 text-sm">
        <div className="text-muted">{children}</div>
        <FormError message={error} />
        <div className="flex justify-end gap-2">
          <Button onClick={onCancel}>Cancel</Button>
          <Button variant={tone} onClick={onConfirm} busy={busy}>
            {confirmLabel}
          </Button>
        </div>
      </div>
    </Modal>
  )
}
