/**
 * CORS headers the client-server spec recommends on every response ("Web Browser Clients"),
 * so that browser clients such as Element Web can call any endpoint.
 */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
};
