import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Calls the admin API of the controller running on a data dir (`marina up` or `marina
 * controller`), found as the CLI finds it: `DIR/controller/controller.json` and `admin-token`.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export type ControllerAdmin = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: Json }>;

/** `path` is under `/_marina/controller/v1`. */
export async function controllerAdmin(dataDir: string): Promise<ControllerAdmin> {
  const dir = join(dataDir, 'controller');
  const { url } = JSON.parse(await readFile(join(dir, 'controller.json'), 'utf8')) as {
    url: string;
  };
  const token = (await readFile(join(dir, 'admin-token'), 'utf8')).trim();
  return async (method, path, body) => {
    const response = await fetch(`${url}/_marina/controller/v1${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: await response.json() };
  };
}
