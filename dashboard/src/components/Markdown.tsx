import type { ComponentProps } from 'react'
import ReactMarkdown, { type Components } from 'react-markdown'
import rehypeHighlight from 'rehype-highlight'
import remarkGfm from 'remark-gfm'

// Loaded lazily by the chat (React.lazy): the parser and the highlighter's grammars are most of the chat's
// weight, and a reply can be shown as plain text for the moment they take to arrive.

const components: Components = {
  a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noreferrer noopener" className="text-accent-text underline" />,
  pre: ({ node: _node, ...props }) => <pre {...props} className="my-2 overflow-x-auto rounded-md border border-line bg-sunken p-3 text-xs" />,
  code: ({ node: _node, className, ...props }) => (
    <code {...props} className={`${className ?? ''} font-mono [:not(pre)>&]:rounded [:not(pre)>&]:bg-sunken [:not(pre)>&]:px-1 [:not(pre)>&]:py-0.5`} />
  ),
  table: ({ node: _node, ...props }) => (
    <div className="relative my-2 overflow-x-auto">
      <table {...props} className="text-left text-sm [&_td]:border [&_td]:border-line [&_td]:px-2 [&_td]:py-1 [&_th]:border [&_th]:border-line [&_th]:px-2 [&_th]:py-1" />
    </div>
  ),
}

export default function Markdown({ children }: { children: string } & Pick<ComponentProps<'div'>, 'className'>) {
  return (
    <div className="space-y-2 break-words [&_h1]:text-lg [&_h1]:font-semibold [&_h2]:font-semibold [&_h3]:font-semibold [&_li]:ml-5 [&_ol]:list-decimal [&_ul]:list-disc [&_blockquote]:border-l-2 [&_blockquote]:border-line-strong [&_blockquote]:pl-3 [&_blockquote]:text-muted">
      <ReactMarkdown remarkPlugins={[remarkGfm]} rehypePlugins={[[rehypeHighlight, { detect: false }]]} components={components}>
        {children}
      </ReactMarkdown>
    </div>
  )
}
