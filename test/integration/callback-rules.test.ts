import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createUser, rawRequest, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

/**
 * Dash callback rules at the HTTP level, against an app that records what it receives: what is
 * read, what is refused and why, and that the app gets exactly the body that was judged.
 */
describe('Dash callback rules over HTTP', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let ana: string;
  let harry: string;
  const PASSWORD = 'callback passphrase';

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, {
      dash: { callbacks: [{ outputs: ['salary-table.data', '{"type":"salary-cell","index":"*"}.children'], groups: ['hr'] }], max_callback_body: 4096 },
    });
    await createUser(gw.store, 'ana', PASSWORD, { groups: ['analysts'] });
    await createUser(gw.store, 'harry', PASSWORD, { groups: ['hr'] });
    ana = await signIn(gw.url, 'ana', PASSWORD);
    harry = await signIn(gw.url, 'harry', PASSWORD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const salaryBody = JSON.stringify({ output: 'salary-table.data', outputs: { id: 'salary-table', property: 'data' }, inputs: [], changedPropIds: [] });
  async function post(target: string, body: string | Buffer, cookie: string | null, headers: Record<string, string> = {}) {
    const before = upstream.requests.length;
    const res = await rawRequest(gw.url, target, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}), ...headers }, body: body as string });
    return { res, reached: upstream.requests.slice(before) };
  }

  it('refuses a protected callback with a 403 JSON the page helper recognises, and passes it for hr byte for byte', async () => {
    const refused = await post('/_dash-update-component', salaryBody, ana);
    assert.equal(refused.res.status, 403);
    assert.equal(refused.res.headers['x-dashgate'], 'forbidden');
    assert.deepEqual(JSON.parse(refused.res.body), { error: 'forbidden' });
    assert.equal(refused.reached.length, 0);
    const allowed = await post('/_dash-update-component', salaryBody, harry);
    assert.equal(allowed.res.status, 200);
    assert.equal(allowed.reached[0]!.body, salaryBody);
    assert.equal(allowed.reached[0]!.headers['content-length'], String(Buffer.byteLength(salaryBody)));
  });

  it('an unprotected callback passes for everyone signed in; anonymous callers get 401 before the body is read', async () => {
    const open = await post('/_dash-update-component', JSON.stringify({ output: 'chart.figure' }), ana);
    assert.equal(open.res.status, 200);
    const anonymous = await post('/_dash-update-component', salaryBody, null);
    assert.equal(anonymous.res.status, 401);
    assert.equal(anonymous.reached.length, 0);
  });

  it('judges "outputs" as well as "output": a harmless id with protected outputs is refused', async () => {
    const mixed = JSON.stringify({ output: 'chart.figure', outputs: [{ id: { type: 'salary-cell', index: 2 }, property: 'children' }] });
    assert.equal((await post('/_dash-update-component', mixed, ana)).res.status, 403);
    const duplicateKey = '{"output":"chart.figure","output":"salary-table.data"}';
    assert.equal((await post('/_dash-update-component', duplicateKey, ana)).res.status, 403, 'the last key wins, in Python as here');
  });

  it('background-callback polls (?cacheKey=…&job=…) carry the same body and are judged the same way', async () => {
    const poll = '/_dash-update-component?cacheKey=abc.sig&job=42.sig';
    const refused = await post(poll, salaryBody, ana);
    assert.equal(refused.res.status, 403);
    const allowed = await post(poll, salaryBody, harry);
    assert.equal(allowed.reached[0]!.url, poll, 'the query is passed on untouched');
  });

  it('finds the callback endpoint under any prefix and in every spelling of the path', async () => {
    for (const target of ['/app/_dash-update-component', '/a/b/_dash-update-component', '//_dash-update-component', '/_dash-update-component/', '/_dash-update-component;x=1', '/x/../_dash-update-component', '/_dash-update-component?output=chart.figure']) {
      const { res, reached } = await post(target, salaryBody, ana);
      assert.equal(res.status, 403, target);
      assert.equal(reached.length, 0, target);
    }
  });

  it('a body over dash.max_callback_body gets 413, declared or streamed', async () => {
    const big = JSON.stringify({ output: 'chart.figure', inputs: [{ value: 'x'.repeat(5000) }] });
    const declared = await post('/_dash-update-component', big, harry);
    assert.equal(declared.res.status, 413);
    assert.equal(declared.reached.length, 0);
    const streamed = await new Promise<string>((resolve, reject) => {
      const url = new URL(gw.url);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${harry}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
        for (let i = 0; i < 5; i++) socket.write(`3e8\r\n${'y'.repeat(1000)}\r\n`);
        socket.write('0\r\n\r\n');
      });
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        answer += chunk;
        if (answer.includes('\r\n\r\n')) socket.destroy();
      });
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    assert.match(streamed, /^HTTP\/1\.1 413 /);
  });

  it('a chunked body within the limit is judged and reaches the app with its exact length', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const url = new URL(gw.url);
      const socket = connect(Number(url.port), url.hostname, () => {
        const half = Math.floor(salaryBody.length / 2);
        const parts = [salaryBody.slice(0, half), salaryBody.slice(half)];
        socket.write(`POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${harry}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
        for (const part of parts) socket.write(`${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`);
        socket.write('0\r\n\r\n');
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const seen = upstream.requests.at(-1)!;
    assert.equal(seen.body, salaryBody);
    assert.equal(seen.headers['content-length'], String(Buffer.byteLength(salaryBody)));
    assert.equal(seen.headers['transfer-encoding'], undefined);
  });

  it('compressed bodies get 415 and malformed ones 400, never a guess', async () => {
    const gzipped = await post('/_dash-update-component', gzipSync(salaryBody), harry, { 'content-encoding': 'gzip' });
    assert.equal(gzipped.res.status, 415);
    for (const body of ['not json', '[]', '{}', '{"output": 5}', '{"output":"a.b","outputs":[7]}', '\ufeff' + salaryBody]) {
      const { res, reached } = await post('/_dash-update-component', body, harry);
      assert.equal(res.status, 400, body);
      assert.equal(reached.length, 0, body);
    }
  });

  // WebSocket callbacks are judged message by message: test/integration/dash-websocket-rules.test.ts.
});
