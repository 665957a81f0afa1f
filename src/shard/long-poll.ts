/**
 * Which requests are long-polls: `GET /sync` with a `timeout` above zero may wait that long for
 * something to happen. The shard gives them their own, larger in-flight cap (a client keeps one
 * waiting at all times, so they must not take the slots of ordinary requests) and ends their
 * waits when the tenant hibernates.
 */
const SYNC_PATH = /^\/_matrix\/client\/[^/]+\/sync$/;

export function isLongPoll(method: string, url: string): boolean {
  if (method !== 'GET') return false;
  const query = url.indexOf('?');
  if (query === -1) return false;
  if (!SYNC_PATH.test(url.slice(0, query))) return false;
  const timeout = Number(new URLSearchParams(url.slice(query + 1)).get('timeout'));
  return Number.isFinite(timeout) && timeout > 0;
}
