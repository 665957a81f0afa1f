import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where the controller's API is and the admin token it wants. */
export interface ControllerEndpoint {
  readonly url: string;
  readonly token: string;
}

export interface ControllerEndpointOptions {
  /** The controller's base URL; otherwise read from DIR/controller/controller.json. */
  readonly controllerUrl?: string;
  /** The admin token's file; otherwise DIR/controller/admin-token. */
  readonly tokenFile?: string;
  /** The data directory of the controller (`--data-dir`). */
  readonly dataDir: string;
}

/**
 * Finds the controller afresh on each call: a controller that restarts may listen on another port
 * (controller.json) and a first start creates the token file, so the router that started first
 * finds them once they exist.
 */
export function controllerEndpointFinder(
  options: ControllerEndpointOptions,
): () => Promise<ControllerEndpoint> {
  const controllerDir = join(options.dataDir, 'controller');
  const tokenFile = options.tokenFile ?? join(controllerDir, 'admin-token');
  const infoFile = join(controllerDir, 'controller.json');
  return async () => {
    const token = (await readText(tokenFile, 'the admin token')).trim();
    if (token === '') throw new Error(`the admin token file ${tokenFile} is empty`);
    if (options.controllerUrl !== undefined) return { url: options.controllerUrl, token };
    const info = JSON.parse(await readText(infoFile, 'the running controller')) as {
      url?: unknown;
    };
    if (typeof info.url !== 'string') throw new Error(`${infoFile} holds no controller url`);
    return { url: info.url, token };
  };
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') {
      throw new Error(`no ${file} (${what}): is the controller running?`, { cause: error });
    }
    throw error;
  }
}
