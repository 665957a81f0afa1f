/**
 * Certificates made at test time with the `openssl` binary: a throwaway CA, and server
 * certificates it signs for the given DNS names and IP addresses.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export class TestCa {
  private serial = 1;

  private constructor(
    readonly dir: string,
    readonly cert: string,
    readonly certFile: string,
    private readonly keyFile: string,
  ) {}

  /** A new CA in a fresh temporary directory (remove it with `dispose()`). */
  static create(name = 'Marina Test CA'): TestCa {
    const dir = mkdtempSync(join(tmpdir(), 'marina-ca-'));
    const keyFile = join(dir, 'ca.key');
    const certFile = join(dir, 'ca.pem');
    openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    return new TestCa(dir, readFileSync(certFile, 'utf8'), certFile, keyFile);
  }

  /** A server certificate for `names` (DNS names and IP addresses), signed by this CA. */
  issue(names: readonly string[]): TestCertificate {
    const id = this.serial++;
    const keyFile = join(this.dir, `server-${id}.key`);
    const csrFile = join(this.dir, `server-${id}.csr`);
    const certFile = join(this.dir, `server-${id}.pem`);
    const extFile = join(this.dir, `server-${id}.ext`);
    const alt = names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
    writeFileSync(extFile, `subjectAltName=${alt}\nextendedKeyUsage=serverAuth\n`);
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      csrFile,
      '-subj',
      `/CN=${names[0] ?? 'server'}`,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      csrFile,
      '-CA',
      this.certFile,
      '-CAkey',
      this.keyFile,
      '-set_serial',
      String(1000 + id),
      '-days',
      '2',
      '-out',
      certFile,
      '-extfile',
      extFile,
    ]);
    return {
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
      certFile,
      keyFile,
    };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
