import { AdminSecretInput } from './components/AdminSecretInput'
import { Startup } from './pages/Startup'

export function App() {
  return (
    <div className="min-h-screen">
      <header className="flex items-center justify-between border-b border-stone-800 px-6 py-3">
        <h1 className="text-xl font-semibold tracking-tight text-teal-300">Nova</h1>
        <AdminSecretInput />
      </header>
      <main className="mx-auto max-w-5xl px-6 py-8">
        <Startup />
      </main>
    </div>
  )
}
