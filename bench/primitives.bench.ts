/**
 * Throughput of the primitives every request and event goes through: canonical JSON, Ed25519
 * JSON signing and verification, event content hashing, and a GET served by the HTTP layer.
 * Run: npx tsx bench/primitives.bench.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { tenantEndpoints } from '../src/api/endpoints.js';
import { LocalTenantStore } from '../src/controller/local-tenant-store.js';
import { canonicalJson } from '../src/core/canonical-json.js';
import { startHomeserver } from '../src/homeserver/homeserver.js';
import { createHttpApp } from '../src/http/http-app.js';
import { addContentHash } from '../src/protocol/event-hashing.js';
import { generateSigningKey } from '../src/protocol/signing-key.js';
import { signJson, verifyJsonSignature } from '../src/protocol/signing.js';

const event = {
  type: 'm.room.message',
  room_id: '!abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  sender: '@alice:example.org',
  origin_server_ts: 1_700_000_000_000,
  depth: 42,
  prev_events: ['$Zabcdefghijklmnopqrstuvwxyz0123456789ABCDEF'],
  auth_events: [
    '$Aabcdefghijklmnopqrstuvwxyz0123456789ABCDEF',
    '$Babcdefghijklmnopqrstuvwxyz0123456789ABCDEF',
  ],
  content: { msgtype: 'm.text', body: 'Hello, world! '.repeat(8) },
};

function opsPerSecond(label: string, iterations: number, fn: () => void): void {
  for (let i = 0; i < Math.min(1000, iterations); i += 1) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(34)} ${Math.round(iterations / seconds).toLocaleString('en')} ops/s`);
}

async function httpRequestsPerSecond(total: number, concurrency: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marina-bench-'));
  const logger = pino({ level: 'silent' });
  const homeserver = await startHomeserver(
    await new LocalTenantStore(dataDir).create('bench.test'),
    {
      logger,
      defaultPublicBaseUrl: 'http://bench.test',
    },
  );
  const app = createHttpApp({
    logger,
    endpoints: tenantEndpoints,
    resolveTenant: async () => homeserver.context,
  });
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/_matrix/client/versions`;
  let sent = 0;
  const latencies: number[] = [];
  const worker = async () => {
    while (sent < total) {
      sent += 1;
      const start = performance.now();
      const response = await fetch(url);
      await response.arrayBuffer();
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length * 0.5)]!;
  const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
  console.log(
    `GET /_matrix/client/versions (c=${concurrency})`.padEnd(34) +
      ` ${Math.round(total / seconds).toLocaleString('en')} req/s, p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`,
  );
  await app.close();
  await homeserver.stop();
  await rm(dataDir, { recursive: true, force: true });
}

const key = generateSigningKey();
const signed = signJson(event, 'example.org', key);
opsPerSecond('canonical JSON of an event', 100_000, () => canonicalJson(event));
opsPerSecond('content hash of an event', 50_000, () => addContentHash(event));
opsPerSecond('sign JSON (Ed25519)', 20_000, () => signJson(event, 'example.org', key));
opsPerSecond('verify JSON signature (Ed25519)', 10_000, () =>
  verifyJsonSignature(signed, 'example.org', key.keyId, key.publicKey),
);
await httpRequestsPerSecond(20_000, 1);
await httpRequestsPerSecond(20_000, 16);
