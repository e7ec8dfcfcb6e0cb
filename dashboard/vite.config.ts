/// <reference types="vitest/config" />
import type { ServerResponse } from 'node:http'

import tailwindcss from '@tailwindcss/vite'
import react from '@vitejs/plugin-react'
import { defineConfig, type ProxyOptions } from 'vite'

interface Upstream {
  service: string
  target: string
  /** Drop the prefix before forwarding (the service mounts its routes at `/`). */
  stripPrefix: boolean
  ws?: boolean
}

// The seed's proxy table; nginx.conf serves the same prefixes in Docker Compose. Prefixes end in a
// slash so a dashboard route that merely starts with the same letters (`/api-keys`) stays in the SPA.
const upstreams: Record<string, Upstream> = {
  '/api/': {
    service: 'orchestrator',
    target: process.env.ORCHESTRATOR_URL || 'http://127.0.0.1:8000',
    stripPrefix: false,
    ws: true,
  },
  '/v1/': {
    service: 'llm-gateway',
    target: process.env.LLM_GATEWAY_URL || 'http://127.0.0.1:8001',
    stripPrefix: false,
  },
  // Not in the seed's table: llm-gateway's own routes outside /v1 (provider health and test, runtime config,
  // the typed model list), stripped like the other *-api prefixes.
  '/llm-api/': {
    service: 'llm-gateway',
    target: process.env.LLM_GATEWAY_URL || 'http://127.0.0.1:8001',
    stripPrefix: true,
  },
  // Not in the seed's table: the memory inspector needs memory-service's own routes (browse, search, edit),
  // which the orchestrator does not proxy. The public implementation mounts it the same way (`/mem`).
  '/memory-api/': {
    service: 'memory-service',
    target: process.env.MEMORY_SERVICE_URL || 'http://127.0.0.1:8002',
    stripPrefix: true,
  },
  // Not in the seed's table: chat-bridge's adapter status and reload, for the Settings page.
  '/bridge-api/': {
    service: 'chat-bridge',
    target: process.env.CHAT_BRIDGE_URL || 'http://127.0.0.1:8090',
    stripPrefix: true,
  },
  '/recovery-api/': {
    service: 'recovery',
    target: process.env.RECOVERY_URL || 'http://127.0.0.1:8888',
    stripPrefix: true,
  },
  '/cortex-api/': {
    service: 'cortex',
    target: process.env.CORTEX_URL || 'http://127.0.0.1:8100',
    stripPrefix: true,
  },
  '/voice-api/': {
    service: 'voice-service',
    target: process.env.VOICE_SERVICE_URL || 'http://127.0.0.1:8130',
    stripPrefix: true,
  },
}

function proxyTable(): Record<string, ProxyOptions> {
  const table: Record<string, ProxyOptions> = {}
  for (const [prefix, { service, target, stripPrefix, ws }] of Object.entries(upstreams)) {
    const mount = prefix.slice(0, -1)
    table[prefix] = {
      target,
      changeOrigin: true,
      ws,
      rewrite: stripPrefix ? (path) => path.slice(mount.length) : undefined,
      // Vite answers an unreachable upstream with an empty 502; answer with the `{"detail"}` body every
      // Nova service uses, so the dashboard can say which service is missing. Runs before Vite's handler.
      configure: (proxy) => {
        proxy.on('error', (err, _req, res) => {
          if (!('req' in res)) return // a WebSocket; Vite closes it
          const response = res as ServerResponse
          if (response.headersSent || response.writableEnded) return
          const reason = (err as NodeJS.ErrnoException).code ?? err.message
          response
            .writeHead(502, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ detail: `${service} is not reachable at ${target} (${reason})` }))
        })
      },
    }
  }
  return table
}

const host = process.env.DASHBOARD_HOST || '127.0.0.1'

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    host,
    port: 5173,
    proxy: proxyTable(),
  },
  // `npm run serve` (vite preview) is how the launcher serves the built dashboard in local mode.
  preview: {
    host,
    port: Number.parseInt(process.env.DASHBOARD_PORT || '3000', 10),
    strictPort: true,
    proxy: proxyTable(),
  },
  test: {
    environment: 'jsdom',
    // Whole-form tests type dozens of characters through user-event; 5 s is too tight on a 2-core CI box.
    testTimeout: 15_000,
    setupFiles: ['./src/test/setup.ts'],
  },
})
