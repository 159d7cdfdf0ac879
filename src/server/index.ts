/** The dev server's public API. */
export { createDevServer, type DevServer, type DevServerOptions } from './server.js';
export { formatBanner } from './banner.js';
export { isLoopbackAddress } from './loopback.js';
export { ResponseCache, cacheKey, parseTags, storability } from './cache.js';
export { checkPath } from './static.js';
export { isBot } from './request-event.js';
