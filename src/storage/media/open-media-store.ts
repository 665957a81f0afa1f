import { LocalMediaStore } from './local-media-store.js';
import type { MediaStore, MediaStoreConfig } from './media-store.js';
import { S3MediaStore } from './s3-media-store.js';

/** The tenant's media store, as its config names it. */
export function openMediaStore(config: MediaStoreConfig): MediaStore {
  return config.kind === 'local' ? new LocalMediaStore(config.path) : new S3MediaStore(config);
}
