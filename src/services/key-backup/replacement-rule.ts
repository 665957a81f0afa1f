/**
 * The spec's rule for a session key uploaded to a backup that already holds a key for the
 * session ("Server-side key backups"): keep the verified one; then the one that decrypts from an
 * earlier message; then the one forwarded fewer times. On a full tie the stored key stays.
 */
export interface BackupKeyRank {
  isVerified: boolean;
  firstMessageIndex: number;
  forwardedCount: number;
}

export function shouldReplaceBackupKey(stored: BackupKeyRank, uploaded: BackupKeyRank): boolean {
  if (stored.isVerified !== uploaded.isVerified) return uploaded.isVerified;
  if (stored.firstMessageIndex !== uploaded.firstMessageIndex) {
    return uploaded.firstMessageIndex < stored.firstMessageIndex;
  }
  return uploaded.forwardedCount < stored.forwardedCount;
}
