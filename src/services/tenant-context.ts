import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { TenantDatabase } from '../storage/tenant-database.js';
import type { AccountServices } from './account-services.js';
import type { E2eeServices } from './e2ee/e2ee-services.js';
import type { EphemeralServices } from './ephemeral-services.js';
import type { FederationServices } from './federation/federation-services.js';
import type { MediaRepository } from './media/media-repository.js';
import type { ThumbnailService } from './media/thumbnail-service.js';
import type { UrlPreviews } from './media/url-preview.js';
import type { NotificationCounts } from './push/notification-counts.js';
import type { RoomServices } from './rooms/room-services.js';
import type { ServerKeys } from './server-keys/server-keys.js';
import type { TenantConfig } from './tenant-config.js';

/**
 * Everything one tenant is, built once when the tenant starts and passed explicitly to every
 * handler and service: there is no process-global state, so many tenants share one process.
 */
export interface TenantContext {
  readonly serverName: string;
  readonly config: TenantConfig;
  /** Base URL clients reach this tenant at (no trailing slash). */
  readonly publicBaseUrl: string;
  readonly db: TenantDatabase;
  readonly clock: Clock;
  /** A pino child logger whose every line carries `server_name`. */
  readonly logger: Logger;
  readonly services: TenantServices;
}

export interface TenantServices
  extends AccountServices, EphemeralServices, RoomServices, E2eeServices {
  readonly serverKeys: ServerKeys;
  /** Unread notification counts for `/sync`, by the users' push rules. */
  readonly notificationCounts: NotificationCounts;
  /** The content repository: uploads and downloads of the tenant's media. */
  readonly media: MediaRepository;
  /** Thumbnails of the tenant's media, made on request and cached. */
  readonly thumbnails: ThumbnailService;
  /** URL previews (`preview_url`), fetched behind an SSRF guard and cached. */
  readonly urlPreviews: UrlPreviews;
  /** The server-server API: keys, signed requests, and (as it grows) inbound and outbound work. */
  readonly federation: FederationServices;
}
