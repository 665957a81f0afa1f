import { mkdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { parseSigningKeyFile } from '../protocol/signing-key.js';
import type { DatabaseConfig } from '../storage/database-config.js';
import type { MediaStoreConfig } from '../storage/media/media-store.js';
import { openMediaStore } from '../storage/media/open-media-store.js';
import { openTenantDatabase, type TenantDatabase } from '../storage/tenant-database.js';
import type { WalCheckpointer } from '../storage/wal-checkpointer.js';
import { createAccountServices } from '../services/account-services.js';
import { createE2eeServices } from '../services/e2ee/e2ee-services.js';
import { createEphemeralServices, stopEphemeralServices } from '../services/ephemeral-services.js';
import {
  DEFAULT_MAX_UPLOAD_BYTES,
  MediaRepository,
  type MediaSettings,
} from '../services/media/media-repository.js';
import { ThumbnailService } from '../services/media/thumbnail-service.js';
import { UrlPreviews } from '../services/media/url-preview.js';
import { RemoteMedia } from '../services/media/remote-media.js';
import { RemoteMediaEviction } from '../services/media/remote-media-eviction.js';
import { createFederationServices } from '../services/federation/federation-services.js';
import { connectOutboundFederation } from '../services/federation/connect-outbound.js';
import { readCaFiles } from '../services/federation/internet-federation.js';
import type { FederationTransport } from '../services/federation/federation-contracts.js';
import type { InboundPduStats } from '../services/federation/inbound-pdus.js';
import type { OutboundStats } from '../services/federation/outbound-queue.js';
import type { InboundTransactionStats } from '../services/federation/transaction-receiver.js';
import { connectPresenceActivity } from '../services/ephemeral/presence-from-events.js';
import { connectDeviceStreams } from '../services/notifier/connect-device-streams.js';
import { connectNotifier } from '../services/notifier/connect-notifier.js';
import type { PasswordHasherOptions } from '../services/passwords/password-hasher.js';
import { NotificationCounts } from '../services/push/notification-counts.js';
import { createRoomServices } from '../services/rooms/room-services.js';
import { ServerKeys } from '../services/server-keys/server-keys.js';
import type { TenantConfig } from '../services/tenant-config.js';
import type { TenantContext } from '../services/tenant-context.js';

/** What a homeserver is given by the process hosting it. */
export interface HomeserverDeps {
  /** The process logger; the homeserver logs through a child carrying its `server_name`. */
  logger: Logger;
  clock?: Clock;
  /** Base URL clients reach the tenant at, unless its config sets `public_baseurl`. */
  defaultPublicBaseUrl: string;
  /**
   * Cost and concurrency of password hashing (default: scrypt N=2^17, r=8, p=1, two hashes at a
   * time per tenant). Hashes record their cost, so changing it never breaks existing passwords.
   */
  passwordHashing?: PasswordHasherOptions;
  /** Lifetime of access tokens that come with a refresh token (default 5 minutes). */
  refreshableAccessTokenLifetimeMs?: number;
  /** The process's SQLite WAL checkpointer, so that checkpoints never run inside a commit. */
  walCheckpointer?: WalCheckpointer;
  /** How the hosting process reaches the other tenants of its deployment (through the router). */
  federationTransport?: FederationTransport;
}

/** Outbound federation due within this long keeps a tenant from hibernating. */
const OUTBOUND_WORK_HORIZON_MS = 60_000;

/** A running tenant's federation counters (since it started) and outbound state: plain data. */
export interface FederationStats {
  readonly outbound: OutboundStats;
  readonly inbound: {
    readonly transactions: InboundTransactionStats;
    readonly pdus: InboundPduStats;
  };
}

/** One running tenant: its context, and `stop()` to free everything it holds. */
export interface Homeserver {
  readonly context: TenantContext;
  /**
   * Whether it has background work to finish soon (outbound federation due within a minute), so
   * that its host should not hibernate it yet. Work due later resumes when it next starts.
   */
  busy(): boolean;
  /** Read by the shard's metrics at scrape time (no database access). */
  federationStats(): FederationStats;
  stop(): Promise<void>;
}

/**
 * Starts one tenant from its config (paths absolute): loads its signing key, opens and migrates
 * its database, and builds its services. A failure part-way closes whatever was opened.
 */
export async function startHomeserver(
  config: TenantConfig,
  deps: HomeserverDeps,
): Promise<Homeserver> {
  const logger = deps.logger.child({ server_name: config.server_name });
  const clock = deps.clock ?? systemClock;
  const signingKey = await loadSigningKey(config.signing_key_path);
  if (config.media_store.kind === 'local') {
    await mkdir(config.media_store.path, { recursive: true });
  }
  const db = await openTenantDatabase(databaseConfigOf(config), {
    serverName: config.server_name,
    logger,
    walCheckpointer: deps.walCheckpointer,
  });
  // Its own S3 client (if any), closed with the tenant.
  const mediaStore = openMediaStore(mediaStoreConfigOf(config));
  const media = new MediaRepository({
    serverName: config.server_name,
    db,
    store: mediaStore,
    clock,
    logger,
    settings: mediaSettingsOf(config),
  });
  const oldVerifyKeys = config.old_verify_keys.map((old) => ({
    keyId: old.key_id,
    publicKey: old.key,
    expiredTs: old.expired_ts,
  }));
  const accounts = createAccountServices({
    config,
    db,
    clock,
    logger,
    passwordHashing: deps.passwordHashing,
    refreshableAccessTokenLifetimeMs: deps.refreshableAccessTokenLifetimeMs,
  });
  const serverKeys = new ServerKeys(config.server_name, signingKey, oldVerifyKeys, clock);
  const rooms = createRoomServices({
    serverName: config.server_name,
    db,
    clock,
    logger,
    serverKeys,
    accounts,
  });
  const ephemeral = createEphemeralServices({
    serverName: config.server_name,
    db,
    clock,
    logger,
    accountData: accounts.accountData,
  });
  const federation = createFederationServices({
    config,
    db,
    clock,
    logger,
    serverKeys,
    transport: deps.federationTransport,
    extraCaPems: await readCaFiles(config.federation_ca_files),
    rooms,
    users: accounts.users,
    edus: {
      typing: ephemeral.typing,
      receipts: ephemeral.receipts,
      presence: ephemeral.presence,
      memberships: ephemeral.membershipLookup,
      deviceLists: accounts.deviceLists,
      toDevice: accounts.toDevice,
    },
  });
  // Other servers' media: fetched over federation, cached in the tenant's media store.
  media.useRemote(
    new RemoteMedia({
      db,
      store: mediaStore,
      clock,
      logger,
      client: federation.binaryClient,
      maxBytes: media.settings.maxUploadBytes,
    }),
  );
  // Cached remote media nobody was served for `remote_media_lifetime_days` goes (this tenant's timer).
  const remoteMediaEviction = new RemoteMediaEviction({
    db,
    store: mediaStore,
    clock,
    logger,
    lifetimeDays: config.remote_media_lifetime_days,
  });
  remoteMediaEviction.start();
  const urlPreviews = new UrlPreviews({
    media,
    clock,
    logger,
    settings: {
      enabled: config.url_preview_enabled,
      ipAllowlist: config.url_preview_ip_allowlist,
      timeoutMs: config.url_preview_timeout_ms,
    },
  });
  const context: TenantContext = {
    serverName: config.server_name,
    config,
    publicBaseUrl: (config.public_baseurl ?? deps.defaultPublicBaseUrl).replace(/\/+$/, ''),
    db,
    clock,
    logger,
    services: {
      serverKeys,
      ...accounts,
      ...ephemeral,
      ...rooms,
      ...createE2eeServices({
        serverName: config.server_name,
        db,
        deviceLists: accounts.deviceLists,
        uia: accounts.uia,
        users: accounts.users,
        federation: federation.client,
        logger,
      }),
      notificationCounts: new NotificationCounts({
        db,
        roomGraph: rooms.roomGraph,
        pushRules: accounts.pushRules,
      }),
      media,
      thumbnails: new ThumbnailService({
        db,
        store: mediaStore,
        media,
        clock,
        logger,
        settings: { maxSourceBytes: config.max_thumbnail_source_bytes },
      }),
      urlPreviews,
      federation,
    },
  };
  // Sync long-polls wake on every stream: room events, account data, receipts, typing, presence,
  // to-device messages and device lists.
  const disconnectNotifier = connectNotifier(ephemeral.notifier, context.services);
  const disconnectDeviceStreams = connectDeviceStreams(ephemeral.notifier, context.services);
  // Sending an event is presence activity.
  const disconnectPresence = connectPresenceActivity(ephemeral.presence, rooms.roomEvents);
  // This server's events and its users' EDUs go to the other servers (and the queue resumes).
  const stopOutboundFederation = connectOutboundFederation({
    serverName: config.server_name,
    db,
    logger,
    outbound: federation.outbound,
    roomEvents: rooms.roomEvents,
    roomGraph: rooms.roomGraph,
    sources: { ...ephemeral, deviceLists: accounts.deviceLists, toDevice: accounts.toDevice },
  });
  logger.info({ signing_key_id: signingKey.keyId, database: db.dialect }, 'homeserver started');
  return {
    context,
    busy: () => federation.outbound.hasWorkDueWithin(OUTBOUND_WORK_HORIZON_MS),
    federationStats: () => ({
      outbound: federation.outbound.stats(),
      inbound: {
        transactions: federation.inbound.transactions.stats(),
        pdus: federation.inbound.pdus.stats(),
      },
    }),
    stop: () =>
      stopHomeserver(db, logger, async () => {
        disconnectNotifier();
        disconnectDeviceStreams();
        disconnectPresence();
        await stopOutboundFederation();
        federation.close();
        await stopEphemeralServices(ephemeral);
        urlPreviews.stop();
        await remoteMediaEviction.stop();
        media.stop();
        await mediaStore.close();
      }),
  };
}

async function stopHomeserver(
  db: TenantDatabase,
  logger: Logger,
  stopServices: () => Promise<void>,
): Promise<void> {
  // Long-polls and timers end first, so nothing waits on a database about to close.
  await stopServices();
  await db.close();
  logger.info('homeserver stopped');
}

async function loadSigningKey(path: string) {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the signing key file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const [current] = parseSigningKeyFile(text);
  if (!current) throw new Error(`the signing key file ${path} holds no key`);
  return current;
}

/** The storage layer's view of a tenant's `media_store` setting. */
export function mediaStoreConfigOf(config: TenantConfig): MediaStoreConfig {
  const store = config.media_store;
  if (store.kind === 'local') return { kind: 'local', path: store.path };
  return {
    kind: 's3',
    bucket: store.bucket,
    endpoint: store.endpoint,
    region: store.region,
    prefix: store.prefix,
    forcePathStyle: store.force_path_style,
    ...(store.access_key_id !== undefined && store.secret_access_key !== undefined
      ? {
          credentials: {
            accessKeyId: store.access_key_id,
            secretAccessKey: store.secret_access_key,
          },
        }
      : {}),
  };
}

function mediaSettingsOf(config: TenantConfig): MediaSettings {
  return {
    maxUploadBytes: config.max_upload_size_bytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    quotaBytes: config.media_storage_quota_bytes,
    unauthenticatedFreezeTs: config.unauthenticated_media_freeze_ts,
  };
}

/** The storage layer's view of a tenant's `database` setting. */
export function databaseConfigOf(config: TenantConfig): DatabaseConfig {
  const { database } = config;
  return database.dialect === 'sqlite'
    ? { dialect: 'sqlite', path: database.path }
    : { dialect: 'postgres', url: database.url, maxConnections: database.max_connections };
}
