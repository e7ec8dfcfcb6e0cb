import { MAX_SCREENSHOT_CHARS } from '../api/friction'

// Wider shots are scaled down: a report needs to show what was on screen, not every pixel of it.
const MAX_WIDTH = 1280
// Tried in order until the data URL fits the orchestrator's limit (nova_contracts MAX_SCREENSHOT_CHARS).
const ATTEMPTS: { scale: number; quality: number }[] = [
  { scale: 1, quality: 0.75 },
  { scale: 0.75, quality: 0.6 },
  { scale: 0.5, quality: 0.5 },
  { scale: 0.35, quality: 0.4 },
]

/**
 * The visible part of the page as a JPEG data URL, without a dependency: the DOM is cloned into an SVG
 * <foreignObject> together with the page's own CSS, drawn into a canvas and encoded. Images from other
 * origins and canvases come out blank (an SVG image loads nothing itself); the layout and text are what a
 * friction report needs. `exclude` marks elements to leave out (the report dialog itself).
 */
export async function captureVisiblePage({ exclude = '[data-friction-exclude]' }: { exclude?: string } = {}): Promise<string> {
  if (!document.createElement('canvas').getContext('2d')) throw new Error('this browser cannot draw a screenshot')
  const width = window.innerWidth
  const height = window.innerHeight
  const svg = pageAsSvg(width, height, exclude)
  const image = await loadImage(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`)
  const base = Math.min(1, MAX_WIDTH / width)
  for (const { scale, quality } of ATTEMPTS) {
    const canvas = document.createElement('canvas')
    canvas.width = Math.max(1, Math.round(width * base * scale))
    canvas.height = Math.max(1, Math.round(height * base * scale))
    const context = canvas.getContext('2d')
    if (!context) throw new Error('this browser cannot draw a screenshot')
    context.fillStyle = getComputedStyle(document.documentElement).backgroundColor || '#ffffff'
    context.fillRect(0, 0, canvas.width, canvas.height)
    context.drawImage(image, 0, 0, canvas.width, canvas.height)
    const url = canvas.toDataURL('image/jpeg', quality)
    if (url.startsWith('data:image/jpeg') && url.length <= MAX_SCREENSHOT_CHARS) return url
  }
  throw new Error('the screenshot is too large even scaled down')
}

/** Read an image file the user picked or pasted as a data URL, if it is a format and size the API takes. */
export async function imageFileAsDataUrl(file: File): Promise<string> {
  if (!['image/png', 'image/jpeg', 'image/webp'].includes(file.type)) throw new Error('Use a PNG, JPEG or WebP image.')
  const url = await new Promise<string>((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(String(reader.result))
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'))
    reader.readAsDataURL(file)
  })
  if (url.length > MAX_SCREENSHOT_CHARS) throw new Error('The image is too large (at most about 750 KB).')
  return url
}

function pageAsSvg(width: number, height: number, exclude: string): string {
  const clone = document.body.cloneNode(true) as HTMLElement
  // Before anything is removed from the clone: the form fields are matched up by position.
  copyFormState(document.body, clone)
  clone.querySelectorAll(`script, noscript, ${exclude}`).forEach((element) => element.remove())
  const css = Array.from(document.styleSheets)
    .map((sheet) => {
      try {
        return Array.from(sheet.cssRules, (rule) => rule.cssText).join('\n')
      } catch {
        return '' // a stylesheet from another origin cannot be read
      }
    })
    .join('\n')
  const root = document.documentElement
  const page = getComputedStyle(root)
  const wrapper = document.createElement('div')
  // The theme lives in <html>'s classes; the wrapper carries them so `.dark` rules and variables still apply.
  wrapper.className = root.className
  wrapper.setAttribute('xmlns', 'http://www.w3.org/1999/xhtml')
  wrapper.setAttribute(
    'style',
    `width:${width}px;height:${height}px;overflow:hidden;position:relative;background:${page.backgroundColor};color:${page.color};font-family:${page.fontFamily}`,
  )
  const content = document.createElement('div')
  content.setAttribute('style', `position:absolute;left:${-window.scrollX}px;top:${-window.scrollY}px;width:${document.body.scrollWidth}px`)
  content.innerHTML = clone.innerHTML
  wrapper.appendChild(content)
  const style = `<style>${escapeXmlText(css)}</style>`
  const body = new XMLSerializer().serializeToString(wrapper)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><foreignObject x="0" y="0" width="100%" height="100%">${style}${body}</foreignObject></svg>`
}

/** A clone has the attributes the page was rendered with; what the user typed lives in properties. */
function copyFormState(source: HTMLElement, clone: HTMLElement): void {
  const from = source.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>('input, textarea, select')
  const to = clone.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>('input, textarea, select')
  from.forEach((element, index) => {
    const copy = to[index]
    if (!copy || copy.tagName !== element.tagName) return
    if (element instanceof HTMLTextAreaElement) copy.textContent = element.value
    else if (element instanceof HTMLInputElement && (element.type === 'checkbox' || element.type === 'radio')) {
      if (element.checked) copy.setAttribute('checked', '')
      else copy.removeAttribute('checked')
    } else if (element instanceof HTMLInputElement && element.type !== 'password') copy.setAttribute('value', element.value)
  })
}

function escapeXmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

// A browser that neither loads nor refuses the image must not leave the button spinning.
const LOAD_TIMEOUT_MS = 10_000

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image()
    const timer = setTimeout(() => reject(new Error('drawing the page took too long')), LOAD_TIMEOUT_MS)
    image.onload = () => {
      clearTimeout(timer)
      resolve(image)
    }
    image.onerror = () => {
      clearTimeout(timer)
      reject(new Error('the page could not be drawn'))
    }
    image.src = src
  })
}
