import { Check, Copy } from 'lucide-react'
import { useState } from 'react'

import { toast } from '../toast'
import { Button } from './Button'

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false)

  async function copy() {
    try {
      await navigator.clipboard.writeText(text)
      setCopied(true)
      setTimeout(() => setCopied(false), 2_000)
    } catch {
      // Clipboard access needs a secure context (https or localhost); the text stays selectable on screen.
      toast.error('The browser refused clipboard access; select the text and copy it by hand.')
    }
  }

  return (
    <Button size="sm" onClick={copy} aria-label={copied ? 'Copied' : label}>
      {copied ? <Check className="h-3.5 w-3.5" aria-hidden /> : <Copy className="h-3.5 w-3.5" aria-hidden />}
      {copied ? 'Copied' : label}
    </Button>
  )
}
