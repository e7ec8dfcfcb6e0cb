import { apiFetch, replaceAdminSecret } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type AdminSecretChange = OrchestratorSchemas['AdminSecretChange']
export type AdminSecretRotated = OrchestratorSchemas['AdminSecretRotated']

// The bounds of nova_contracts.orchestrator.AdminSecretChange.new_secret.
export const ADMIN_SECRET_MIN_LENGTH = 16
export const ADMIN_SECRET_MAX_LENGTH = 256

export const adminApi = {
  /**
   * Put a new admin secret in force on every Nova service, then keep it in this browser: the one stored
   * now stops working, so without this the next request would ask for the secret again.
   */
  rotateSecret: async (newSecret: string): Promise<AdminSecretRotated> => {
    const body: AdminSecretChange = { new_secret: newSecret }
    const rotated = await apiFetch<AdminSecretRotated>('/api/v1/admin/secret', { method: 'PUT', json: body })
    replaceAdminSecret(newSecret)
    return rotated
  },
}
