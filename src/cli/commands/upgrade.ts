import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { UpgradeStatus } from '../../controller/tenant-admin.js';
import { marinaVersion } from '../marina-version.js';
import { printJson, tenantCount } from './cli-output.js';
import {
  DATA_DIR_HELP,
  DEFAULT_DATA_DIR,
  plainName,
  requireRunningController,
} from './running-controller.js';

/**
 * `marina upgrade [--version V]`: asks the running controller to move every tenant onto shards of
 * version V, then follows the upgrade until the controller reports it idle. V defaults to the
 * version of the Marina installed here (its package.json), which, once a new release is
 * installed, is newer than the one the running controller started with. The controller does the work, a few tenants at a time, in its
 * reconcile loop: stopping this command (Ctrl-C) stops only the watching.
 */

/** How often the command asks the controller how far the upgrade is. */
export const UPGRADE_POLL_MS = 500;

export function registerUpgradeCommand(program: Command): void {
  program
    .command('upgrade')
    .description(
      'move every tenant onto shards of a Marina version and retire the old shards; shows progress until done',
    )
    .option(
      '--version <version>',
      'the version to upgrade to (default: the installed Marina version)',
      plainName,
    )
    .option('--data-dir <dir>', DATA_DIR_HELP, DEFAULT_DATA_DIR)
    .option('--json', 'print the final status as JSON')
    .action(async (options: { version?: string; dataDir: string; json?: boolean }) => {
      const controller = await requireRunningController(options.dataDir);
      const started = await controller.startUpgrade(options.version ?? marinaVersion());
      const target = started.target_version;
      process.stderr.write(
        `upgrade to ${target}: ${tenantCount(started.tenants_to_move)} to move\n`,
      );
      const final = await followUpgrade(() => controller.upgradeStatus(), {
        intervalMs: UPGRADE_POLL_MS,
        onProgress: (status) => process.stderr.write(progressLine(target, status)),
      });
      const end = formatUpgradeEnd(target, final);
      if (options.json) printJson(final);
      else if (final.tenants_left > 0) process.stderr.write(end);
      else process.stdout.write(end);
      // Tenants still on old shards: the upgrade did not complete, which scripts must see.
      if (final.tenants_left > 0) process.exitCode = 1;
    });
}

/**
 * Asks for the status every `intervalMs` until the upgrade is idle; reports each status whose
 * count of tenants left differs from the last one reported. Answers the final status.
 */
export async function followUpgrade(
  status: () => Promise<UpgradeStatus>,
  options: { intervalMs: number; onProgress: (status: UpgradeStatus) => void },
): Promise<UpgradeStatus> {
  let reported: number | undefined;
  for (;;) {
    const current = await status();
    if (current.state === 'idle') return current;
    if (current.tenants_left !== reported) {
      options.onProgress(current);
      reported = current.tenants_left;
    }
    await sleep(options.intervalMs);
  }
}

export function progressLine(target: string, status: UpgradeStatus): string {
  return `upgrade to ${target}: ${tenantCount(status.tenants_left)} left\n`;
}

export function formatUpgradeEnd(target: string, status: UpgradeStatus): string {
  const shards = Object.entries(status.shards_by_version)
    .map(([version, count]) => `${version}=${count}`)
    .join(', ');
  if (status.tenants_left > 0) {
    return (
      `upgrade to ${target} stopped with ${tenantCount(status.tenants_left)} left ` +
      `(see \`marina moves\`); shards by version: ${shards || 'none'}\n`
    );
  }
  return `upgrade to ${target} done; shards by version: ${shards || 'none'}\n`;
}
