import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { ControllerClient } from '../../controller/controller-client.js';

/**
 * Moves, drains, shard listings and upgrades are the running controller's work: unlike
 * `marina tenant create|list|show|delete`, these commands have no offline fallback.
 */

export const DATA_DIR_HELP = 'the data directory of the running controller';
export const DEFAULT_DATA_DIR = './marina-data';

/** The controller running on `dataDir`; a clear error when none runs. */
export async function requireRunningController(dataDir: string): Promise<ControllerClient> {
  // Loaded here, not above: the commands' help must not load the controller code (main.ts).
  const { ControllerClient } = await import('../../controller/controller-client.js');
  const client = await ControllerClient.find(dataDir);
  if (client === undefined) throw new Error(noControllerMessage(dataDir));
  return client;
}

export function noControllerMessage(dataDir: string): string {
  const dir = resolve(dataDir);
  return (
    `no controller runs on the data directory ${dir}; ` +
    `start one with \`marina up --data-dir ${dir}\` or \`marina controller --data-dir ${dir}\` ` +
    `(or name the data directory of the one that runs with --data-dir)`
  );
}

/** A commander argument parser for names such as a shard id or a version: non-empty, no spaces. */
export function plainName(text: string): string {
  if (!/^[^\s/]+$/.test(text))
    throw new InvalidArgumentError('expected a name without spaces or "/"');
  return text;
}
