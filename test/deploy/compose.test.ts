import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, startGunicorn, stopProcessGroup } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';
import { configProblems } from './pending-settings.js';

// deploy/compose.yaml cannot be started here (no image registry for postgres, redis, nginx and
// python images): these tests check what it configures, and run its example app for real behind
// a gateway with the same settings.

/* eslint-disable @typescript-eslint/no-explicit-any -- the compose file is checked field by field */
const compose = parseYaml(readFileSync(join(REPO_ROOT, 'deploy/compose.yaml'), 'utf8'), { merge: true }) as any;
const gateway = compose.services.dashgate;
const exampleEnv = Object.fromEntries(
  readFileSync(join(REPO_ROOT, 'deploy/compose.env.example'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

/** Compose's ${NAME}, ${NAME:?message} and ${NAME:-default}, from deploy/.env's example. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z_]+)(?::[?-][^}]*)?\}/g, (_, name: string) => {
    assert.ok(name in exampleEnv, `${name} is in compose.env.example`);
    return exampleEnv[name]!;
  });
}

test("the gateway's environment and compose/dashgate.yaml are a valid Dashgate configuration", () => {
  const env = Object.fromEntries(Object.entries(gateway.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v))]));
  assert.deepEqual(configProblems(join(REPO_ROOT, 'deploy/compose/dashgate.yaml'), env), []);
  assert.ok(gateway.volumes.includes('./compose/dashgate.yaml:/etc/dashgate/dashgate.yaml:ro'), "mounted where the image's commands read it");
});

test('three hardened gateway replicas on PostgreSQL and Redis, behind one front', () => {
  assert.equal(gateway.deploy.replicas, 3);
  assert.equal(gateway.read_only, true);
  assert.deepEqual(gateway.cap_drop, ['ALL']);
  assert.deepEqual(gateway.tmpfs, ['/tmp']);
  assert.match(gateway.environment.DASHGATE_DATABASE__URL, /^postgres:\/\/.*@postgres:5432\//);
  assert.match(gateway.environment.DASHGATE_REDIS__URL, /^redis:\/\/redis:6379/);
  assert.equal(gateway.depends_on.postgres.condition, 'service_healthy');
  assert.equal(gateway.depends_on.redis.condition, 'service_healthy');
  assert.ok(compose.services.postgres.healthcheck && compose.services.redis.healthcheck);
  const published = Object.entries(compose.services as Record<string, { ports?: string[] }>).filter(([, s]) => s.ports?.length);
  assert.deepEqual(published.map(([name]) => name), ['front'], 'only the front is published: not the app, not a single replica');
  const nginx = readFileSync(join(REPO_ROOT, 'deploy/compose/nginx.conf'), 'utf8');
  assert.match(nginx, /server dashgate:8000 resolve;/);
  const trusted = (parseYaml(readFileSync(join(REPO_ROOT, 'deploy/compose/dashgate.yaml'), 'utf8')) as any).server.trusted_proxies;
  assert.deepEqual(trusted, compose.networks.edge.ipam.config.map((c: { subnet: string }) => c.subnet), "the front's network is the trusted proxy range");
});

test('the app requires the gateway and shares its secret', () => {
  const app = compose.services.app;
  assert.equal(app.environment.DASHGATE_APP_REQUIRE_GATEWAY, '1');
  assert.equal(app.environment.DASHGATE_APP_SECRET, '${DASHGATE_APP_SECRET}');
  assert.match(gateway.environment.DASHGATE_APP_SECRET, /^\$\{DASHGATE_APP_SECRET:\?/);
  const config = parseYaml(readFileSync(join(REPO_ROOT, 'deploy/compose/dashgate.yaml'), 'utf8')) as any;
  assert.equal(config.identity_jwt.app_secret_env, 'DASHGATE_APP_SECRET');
  assert.equal(app.ports, undefined);
});

// The example app under gunicorn, behind a gateway set up as compose sets it up.
const SECRET = 'an-app-secret-of-32-characters-or-more';
let app: Awaited<ReturnType<typeof startGunicorn>>;
let gw: TestGateway;

before(async () => {
  app = await startGunicorn(join(REPO_ROOT, 'deploy/compose/app'), { env: { DASHGATE_APP_SECRET: SECRET, DASHGATE_APP_REQUIRE_GATEWAY: '1' } });
  gw = await startGateway(app.url, { identity_jwt: { app_secret_env: 'DASHGATE_APP_SECRET' } }, { env: { DASHGATE_APP_SECRET: SECRET } });
  await createUser(gw.store, 'alice', 'correct horse battery', { groups: ['finance'], displayName: 'Alice Liddell' });
  await createUser(gw.store, 'bob', 'correct horse battery', { groups: ['analysts'] });
});

after(async () => {
  await gw?.close();
  if (app) await stopProcessGroup(app.child);
});

/** Runs one of the example app's callbacks the way Dash's front end posts it. */
async function callback(cookie: string, output: string): Promise<any> {
  const [id, property] = output.split('.');
  const res = await fetch(`${gw.url}/_dash-update-component`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ output, outputs: { id, property }, inputs: [{ id: 'quarter', property: 'value', value: 'Q2' }], changedPropIds: ['quarter.value'], state: [] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as any).response[id!][property!];
}

test('the example app refuses a request that did not come through the gateway', async () => {
  const direct = await fetch(`${app.url}/_dash-layout`, { headers: { 'x-forwarded-user': 'alice' } });
  assert.equal(direct.status, 403);
});

test('through the gateway the example app knows the user, and shows the figures to finance only', async () => {
  const alice = await signIn(gw.url, 'alice', 'correct horse battery');
  assert.equal(await callback(alice, 'whoami.children'), 'Signed in as Alice Liddell (alice; finance).');
  assert.match(JSON.stringify(await callback(alice, 'figures.children')), /135/);
  const bob = await signIn(gw.url, 'bob', 'correct horse battery');
  assert.doesNotMatch(JSON.stringify(await callback(bob, 'figures.children')), /135/);
  assert.match(JSON.stringify(await callback(bob, 'figures.children')), /for the finance group/);
});
