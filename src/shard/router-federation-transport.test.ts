import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { NOT_IN_DEPLOYMENT_MS, RouterFederationTransport } from './router-federation-transport.js';

describe('RouterFederationTransport', () => {
  it('sends every destination to the router until the router says it is not here', async () => {
    const clock = new ManualClock();
    const transport = new RouterFederationTransport('http://127.0.0.1:8008/', clock);
    expect(await transport.deploymentUrlOf('alpha.localhost')).toBe('http://127.0.0.1:8008');
    expect(await transport.deploymentUrlOf('matrix.org')).toBe('http://127.0.0.1:8008');
    transport.notInDeployment('matrix.org');
    expect(await transport.deploymentUrlOf('matrix.org')).toBeUndefined();
    expect(await transport.deploymentUrlOf('alpha.localhost')).toBe('http://127.0.0.1:8008');
  });

  it('asks the router again five minutes after it said "not here"', async () => {
    const clock = new ManualClock();
    const transport = new RouterFederationTransport('http://127.0.0.1:8008', clock);
    transport.notInDeployment('later.example');
    clock.advance(NOT_IN_DEPLOYMENT_MS - 1);
    expect(await transport.deploymentUrlOf('later.example')).toBeUndefined();
    clock.advance(1);
    expect(await transport.deploymentUrlOf('later.example')).toBe('http://127.0.0.1:8008');
  });

  it('never sends a server named by an IP address to the router (it would reach the default tenant)', async () => {
    const transport = new RouterFederationTransport('http://127.0.0.1:8008', new ManualClock());
    expect(await transport.deploymentUrlOf('192.0.2.1')).toBeUndefined();
    expect(await transport.deploymentUrlOf('[2001:db8::1]:8448')).toBeUndefined();
  });

  it('refuses a router URL that is not http(s)', () => {
    expect(() => new RouterFederationTransport('ftp://x', new ManualClock())).toThrow();
  });
});
