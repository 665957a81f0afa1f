/**
 * The `marina` command. Every invocation registers every command, so registering stays cheap: a
 * command module imports only commander, node built-ins and light src/cli helpers, and its action
 * loads what it runs with `await import(...)` (most from a sibling `*-actions.ts`). `--help` and
 * `marina tenant list` thus skip the shard, the controller and their dependencies, and a shard
 * process loads only the shard (src/cli/startup-imports.test.ts keeps it so).
 */
import { Command } from 'commander';
import { registerTenantCommands } from './commands/tenant.js';
import { registerUpCommand } from './commands/up.js';
import { registerUserCommands } from './commands/user.js';
import { registerControllerCommand } from './commands/controller.js';
import { registerShardCommand } from './commands/shard.js';
import { registerRouterCommand } from './commands/router.js';
import { registerMovesCommand } from './commands/moves.js';
import { registerUpgradeCommand } from './commands/upgrade.js';

/** The `marina` command. */
export function buildProgram(): Command {
  const program = new Command('marina')
    .description('Marina: many small Matrix homeservers in a few shared processes')
    .showHelpAfterError()
    .enablePositionalOptions();
  registerUpCommand(program);
  registerTenantCommands(program);
  registerUserCommands(program);
  registerControllerCommand(program);
  registerShardCommand(program);
  registerRouterCommand(program);
  registerMovesCommand(program);
  registerUpgradeCommand(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`marina: ${message}${hintFor(error)}\n`);
    process.exitCode = 1;
  });

function hintFor(error: unknown): string {
  const code = (error as { code?: string } | null)?.code;
  if (code === 'EADDRINUSE')
    return '\n  another process already listens there; choose another address with --listen HOST:PORT';
  if (code === 'EACCES') return '\n  no permission to listen there; use a port above 1023';
  return '';
}
