/** The host layer's entry point: the capability registry and the import table derived from it. */
export { CAPABILITIES, HOST_IMPORTS } from './registry.js';
