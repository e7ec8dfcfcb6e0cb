// Schema names of the orchestrator's OpenAPI document, for the domain modules beside this file.
import type { components } from './generated/orchestrator'

export type OrchestratorSchemas = components['schemas']
