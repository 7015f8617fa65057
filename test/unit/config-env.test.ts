import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/** What Kubernetes injects for a Service named "dashgate" (service links), on a port named http. */
const SERVICE_LINKS = {
  DASHGATE_SERVICE_HOST: '10.96.0.12',
  DASHGATE_SERVICE_PORT: '8000',
  DASHGATE_SERVICE_PORT_HTTP: '8000',
  DASHGATE_PORT: 'tcp://10.96.0.12:8000',
  DASHGATE_PORT_8000_TCP: 'tcp://10.96.0.12:8000',
  DASHGATE_PORT_8000_TCP_PROTO: 'tcp',
  DASHGATE_PORT_8000_TCP_PORT: '8000',
  DASHGATE_PORT_8000_TCP_ADDR: '10.96.0.12',
};

describe('settings from the environment', () => {
  it('regression: Kubernetes service-link variables are not settings (start-up failed with "service_host, port, …: unknown setting")', () => {
    const config = loadConfig({ env: { ...SERVICE_LINKS, DASHGATE_SESSION__IDLE_TIMEOUT: '2h' } });
    assert.equal(config.session.idle_timeout, 2 * 3_600_000);
  });

  it('a misspelt variable is refused, naming the variable', () => {
    assert.throws(
      () => loadConfig({ env: { ...SERVICE_LINKS, DASHGATE_SESION__IDLE_TIMEOUT: '2h' } }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 1 && err.problems[0]!.startsWith('sesion: unknown setting (from the environment variable DASHGATE_SESION__IDLE_TIMEOUT;'),
    );
    assert.throws(
      () => loadConfig({ env: { DASHGATE_SESSION__IDEL_TIMEOUT: '2h' } }),
      (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith('session.idel_timeout: unknown setting (from the environment variable DASHGATE_SESSION__IDEL_TIMEOUT;'),
    );
  });

  it('a bad value from a variable says which variable it came from', () => {
    assert.throws(
      () => loadConfig({ env: { DASHGATE_SESSION__IDLE_TIMEOUT: 'soon' } }),
      (err: unknown) => err instanceof ConfigError && /^session\.idle_timeout: .*\(from the environment variable DASHGATE_SESSION__IDLE_TIMEOUT\)$/.test(err.problems[0]!),
    );
  });

  it('a service-link name with a value Kubernetes would not set is still judged as a setting', () => {
    assert.throws(() => loadConfig({ env: { DASHGATE_SERVICE_HOST: 'not-an-address' } }), (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith('service_host: unknown setting (from the environment variable DASHGATE_SERVICE_HOST;'));
  });
});
