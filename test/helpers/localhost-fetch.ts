import { request, type IncomingMessage } from 'node:http';

/**
 * A `fetch` for `http://<name>.localhost:PORT/…` URLs. Curl and browsers resolve `*.localhost` to
 * loopback (RFC 6761), Node's DNS lookup does not; so a client (matrix-js-sdk's `fetchFn`) can
 * reach tenant `alpha.localhost` through `marina up` at `http://alpha.localhost:PORT` as a
 * browser would: the request goes to 127.0.0.1:PORT with its `Host` kept. Other URLs go to the
 * global fetch. Supports what clients send: method, headers, string or byte bodies and an
 * AbortSignal; the response body is read whole (long-polls end on their own).
 */
export const localhostFetch: typeof fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.protocol !== 'http:' || !url.hostname.endsWith('.localhost')) return fetch(input, init);
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : {}));
  const body = await bodyBytes(init?.body ?? (input instanceof Request ? input.body : null));
  const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  signal?.throwIfAborted();

  const outgoing: Record<string, string> = { host: url.host };
  headers.forEach((value, name) => (outgoing[name] = value));
  if (body !== undefined) outgoing['content-length'] = String(body.length);

  return new Promise<Response>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: url.port || 80,
      method,
      path: url.pathname + url.search,
      headers: outgoing,
      signal: signal ?? undefined,
    });
    req.on('error', (error) =>
      reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error })),
    );
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => reject(signal?.aborted ? signal.reason : error));
      res.on('close', () => {
        if (!res.complete) reject(signal?.aborted ? signal.reason : new TypeError('fetch failed'));
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const responseHeaders = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        }
        const hasBody = method !== 'HEAD' && status !== 204 && status !== 304;
        resolve(
          new Response(hasBody ? Buffer.concat(chunks) : null, {
            status,
            statusText: res.statusMessage,
            headers: responseHeaders,
          }),
        );
      });
    });
    req.end(body);
  });
};

/** The request body as bytes; strings, byte arrays and Blobs are what clients send. */
async function bodyBytes(body: RequestInit['body']): Promise<Buffer | undefined> {
  if (body === null || body === undefined) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(await new Response(body).arrayBuffer());
}
