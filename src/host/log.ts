/**
 * The logger moved to src/log.ts (shared by every layer). This re-export keeps modules of other
 * layers that still import it here working; import from src/log.ts instead.
 */
export * from '../log.js';
