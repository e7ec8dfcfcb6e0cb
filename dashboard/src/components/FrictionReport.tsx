import { useMutation, useQueryClient } from '@tanstack/react-query'
import { MessageCircleExclamationPoint } from 'lucide-react'
import { useState, type ClipboardEvent, type FormEvent } from 'react'
import { Link, useLocation } from 'react-router'

import { errorMessage } from '../api/client'
import { frictionApi, frictionQueries, MAX_FRICTION_TEXT } from '../api/friction'
import { toast } from '../toast'
import { Button } from './Button'
import { FormError, TextArea } from './Field'
import { captureVisiblePage, imageFileAsDataUrl } from './FrictionScreenshot'
import { Modal } from './Modal'

interface Draft {
  page: string
  /** What the page looked like when the button was pressed, or null when the browser could not draw it. */
  captured: string | null
  captureError: string | null
}

/**
 * "Something went wrong here", in the sidebar of every page: the page is captured first (so the dialog is
 * not in the picture), then the person says what went wrong and the report is filed with the page's path.
 */
export function FrictionReportButton() {
  const location = useLocation()
  const [draft, setDraft] = useState<Draft | null>(null)
  const [capturing, setCapturing] = useState(false)

  async function open() {
    const page = location.pathname + location.search
    setCapturing(true)
    try {
      setDraft({ page, captured: await captureVisiblePage(), captureError: null })
    } catch (error) {
      setDraft({ page, captured: null, captureError: errorMessage(error) })
    } finally {
      setCapturing(false)
    }
  }

  return (
    <>
      <button
        type="button"
        onClick={() => void open()}
        disabled={capturing}
        aria-busy={capturing || undefined}
        className="flex w-full items-center gap-2 rounded-md px-2 py-1.5 text-left text-sm text-muted hover:bg-sunken hover:text-fg disabled:opacity-60"
      >
        <MessageCircleExclamationPoint className="h-4 w-4" aria-hidden />
        Something went wrong here
      </button>
      {draft && <FrictionReportDialog draft={draft} onClose={() => setDraft(null)} />}
    </>
  )
}

function FrictionReportDialog({ draft, onClose }: { draft: Draft; onClose: () => void }) {
  const queryClient = useQueryClient()
  const [text, setText] = useState('')
  const [textError, setTextError] = useState<string | null>(null)
  const [screenshot, setScreenshot] = useState<string | null>(draft.captured)
  const [imageError, setImageError] = useState<string | null>(null)

  const create = useMutation({
    mutationFn: frictionApi.create,
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Thanks: the report is filed under Friction.')
      void queryClient.invalidateQueries({ queryKey: frictionQueries.all })
      onClose()
    },
  })

  async function attachImage(file: File | undefined) {
    if (!file) return
    try {
      setScreenshot(await imageFileAsDataUrl(file))
      setImageError(null)
    } catch (error) {
      setImageError(errorMessage(error))
    }
  }

  function onPaste(event: ClipboardEvent) {
    const file = Array.from(event.clipboardData.files).find((f) => f.type.startsWith('image/'))
    if (!file) return
    event.preventDefault()
    void attachImage(file)
  }

  function submit(event: FormEvent) {
    event.preventDefault()
    const trimmed = text.trim()
    if (!trimmed) return setTextError('Say what went wrong, or what you expected instead.')
    if (trimmed.length > MAX_FRICTION_TEXT) return setTextError(`At most ${MAX_FRICTION_TEXT.toLocaleString()} characters.`)
    setTextError(null)
    create.mutate({ text: trimmed, page: draft.page, screenshot })
  }

  return (
    <Modal title="Something went wrong here" onClose={onClose} size="lg">
      <form onSubmit={submit} onPaste={onPaste} className="space-y-4" noValidate>
        <p className="text-sm text-muted">
          On <code className="font-mono text-fg">{draft.page}</code>. Reports are listed under <Link to="/friction" onClick={onClose} className="underline">Friction</Link>, where “Fix this” hands one to the pipeline.
        </p>
        <TextArea
          label="What went wrong?"
          rows={4}
          value={text}
          error={textError}
          autoFocus
          onChange={(event) => setText(event.target.value)}
        />
        <fieldset className="space-y-2">
          <legend className="text-sm font-medium">Screenshot (optional)</legend>
          {screenshot ? (
            <div className="space-y-2">
              <img src={screenshot} alt="Screenshot attached to the report" className="max-h-48 rounded-md border border-line object-contain" />
              <Button size="sm" variant="ghost" onClick={() => setScreenshot(null)}>
                Remove screenshot
              </Button>
            </div>
          ) : (
            <p className="text-xs text-muted">
              {draft.captureError ? `The page could not be captured (${draft.captureError}). ` : 'No screenshot attached. '}
              Choose an image, or paste one into this form.
            </p>
          )}
          <label className="block text-sm">
            <span className="sr-only">Attach an image</span>
            <input
              type="file"
              accept="image/png,image/jpeg,image/webp"
              aria-label="Attach an image"
              onChange={(event) => void attachImage(event.target.files?.[0])}
              className="text-xs text-muted file:mr-2 file:rounded-md file:border file:border-line-strong file:bg-panel file:px-2 file:py-1 file:text-xs file:text-fg"
            />
          </label>
          {imageError && <p className="text-xs text-rose-700 dark:text-rose-300">{imageError}</p>}
        </fieldset>
        <FormError message={create.error ? errorMessage(create.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={create.isPending}>
            Send report
          </Button>
        </div>
      </form>
    </Modal>
  )
}
