import { request, type IncomingHttpHeaders } from 'node:http';

/**
 * One HTTP request with a `Host` of the test's choosing (fetch does not let a caller set it),
 * e.g. to reach a tenant through a router as `alpha.localhost` without DNS for that name.
 */

export interface HostRequest {
  method?: string;
  path: string;
  host?: string;
  headers?: Record<string, string>;
  /** JSON-encoded unless a string. */
  body?: unknown;
  token?: string;
  /** The local address to connect from (127.0.0.2 poses as another machine on loopback). */
  localAddress?: string;
}

export interface HostResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** Sends the request to `baseUrl` (`http://127.0.0.1:PORT`) and reads the whole response. */
export function requestWithHost(baseUrl: string, options: HostRequest): Promise<HostResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { ...options.headers };
  if (options.host !== undefined) headers.Host = options.host;
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
