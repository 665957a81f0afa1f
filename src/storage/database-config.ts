/** Where one tenant's database lives: a SQLite file (embedded default) or a PostgreSQL database. */
export type DatabaseConfig =
  | { dialect: 'sqlite'; path: string }
  | { dialect: 'postgres'; url: string; maxConnections?: number };

export type Dialect = DatabaseConfig['dialect'];

const HIDDEN = '***';

/**
 * A database URL fit for logs and error messages: any password (in the user-info part or a
 * `password` query parameter) is replaced by `***`.
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL we can parse: hide everything between `://user:` and `@` to be safe.
    return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, `$1${HIDDEN}@`);
  }
  if (parsed.password !== '') parsed.password = HIDDEN;
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', HIDDEN);
  return parsed.toString();
}

/** A short, password-free name for the database, for logs and errors. */
export function describeDatabase(config: DatabaseConfig): string {
  return config.dialect === 'sqlite' ? `sqlite:${config.path}` : redactDatabaseUrl(config.url);
}

/** Every secret the config carries, so that error texts can be scrubbed of them. */
export function secretsOf(config: DatabaseConfig): string[] {
  if (config.dialect !== 'postgres') return [];
  const secrets: string[] = [];
  try {
    const parsed = new URL(config.url);
    if (parsed.password !== '') {
      secrets.push(parsed.password, decodeURIComponent(parsed.password));
    }
    const queryPassword = parsed.searchParams.get('password');
    if (queryPassword) secrets.push(queryPassword);
  } catch {
    const match = /\/\/[^/:@]*:([^@/]*)@/.exec(config.url);
    if (match?.[1]) secrets.push(match[1]);
  }
  return secrets.filter((secret) => secret.length > 0);
}
