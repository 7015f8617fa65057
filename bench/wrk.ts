/**
 * wrk, the load tool: C, run with one thread (-t1) so it leaves the most CPU to the processes
 * being measured on a 2-core machine. Method, body and headers go through a small Lua script.
 * Runs asynchronously, so the sign-in storm's clients keep running in this process meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface WrkResult {
  rps: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  seconds: number;
  /** Socket errors: connect, read, write, timeout. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
}

const running = new Set<ChildProcess>();

/** Kills wrk runs still going (on SIGINT or a failure). */
export function killWrk(): void {
  for (const child of running) child.kill('SIGKILL');
}

let scriptCount = 0;

/** A Lua long string: no escapes to get wrong. */
function luaString(text: string): string {
  let level = 0;
  while (text.includes(`]${'='.repeat(level)}]`)) level++;
  const eq = '='.repeat(level);
  return `[${eq}[${text}]${eq}]`;
}

export async function wrk(baseUrl: string, spec: RequestSpec, options: { connections: number; seconds: number; scriptDir: string; timeoutSeconds?: number }): Promise<WrkResult> {
  const script = join(options.scriptDir, `wrk-${++scriptCount}.lua`);
  const lines = [`wrk.method = ${luaString(spec.method)}`];
  if (spec.body !== undefined) lines.push(`wrk.body = ${luaString(spec.body)}`);
  for (const [name, value] of Object.entries(spec.headers ?? {})) lines.push(`wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`);
  writeFileSync(script, `${lines.join('\n')}\n`);
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, `--timeout`, `${options.timeoutSeconds ?? 5}s`, '--latency', '-s', script, `${baseUrl}${spec.path}`];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      running.delete(child);
      reject(new Error(`wrk could not run (apt-get install wrk): ${err.message}`));
    });
    child.on('close', (c) => {
      running.delete(child);
      resolve({ code: c, stdout, stderr });
    });
  });
  if (code !== 0) throw new Error(`wrk ${args.join(' ')} failed (exit ${code}): ${stderr || stdout}`);
  // wrk reports a broken script and then runs a plain GET anyway: never measure that.
  if (`${stdout}${stderr}`.includes(`${script}:`)) throw new Error(`wrk could not run its script ${script}: ${stderr || stdout}`);
  return parseWrk(stdout);
}

export function parseWrk(out: string): WrkResult {
  const ms = (label: string): number => {
    const match = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s|m)\\b`, 'm').exec(out);
    if (!match) return NaN;
    return Number(match[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  };
  const maxMatch = /^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)\b/m.exec(out);
  const max = maxMatch ? Number(maxMatch[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[maxMatch[2] as 'us' | 'ms' | 's' | 'm'] : NaN;
  const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: ms('50'),
    p90: ms('90'),
    p99: ms('99'),
    max,
    requests: Number(total?.[1] ?? 0),
    seconds: total ? Number(total[2]) * { ms: 0.001, s: 1, m: 60 }[total[3] as 'ms' | 's' | 'm'] : NaN,
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

export function errorCount(r: WrkResult): number {
  const e = r.socketErrors;
  return e.connect + e.read + e.write + e.timeout;
}
