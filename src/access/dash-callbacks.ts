import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import type { DeclaredCallback } from './dash-dependencies.js';
import type { User } from '../store/types.js';
import { compileGlob } from './patterns.js';
import { compilePolicy, describePolicy, evaluatePolicy, type Policy, type PolicyInput, type Verdict } from './policy.js';

/**
 * Dash callback rules: a callback is protected by what it writes. Every callback is a
 * `POST <prefix>_dash-update-component` whose JSON body names its outputs twice: `output`, the
 * callback's id, which Dash looks the function up by ("tbl.data", "..a.b...c.d.." for several,
 * "id.prop@<hash>" for allow_duplicate, a JSON id for pattern-matching callbacks), and `outputs`,
 * the concrete {id, property} pairs. Both are judged; every rule matching any output must allow.
 */

/** One output as Dash names it: a string id or a pattern-matching (dict) id, and a property. */
export interface CallbackOutput {
  id: string | Record<string, unknown>;
  property: string;
}

export interface CallbackRuleInput extends PolicyInput {
  name?: string | undefined;
  outputs: readonly string[];
}

interface CompiledCallbackRule {
  index: number;
  label: string;
  policy: Policy;
  matches: (output: CallbackOutput) => boolean;
}

export interface CallbackJudgement {
  verdict: Verdict;
  /** The rule that refused (or the last that allowed), for logs and explain. */
  rule: { index: number; label: string; policy: string } | null;
}

const ALLOWED: CallbackJudgement = Object.freeze({ verdict: 'allow', rule: null });

/** Why an output pattern cannot be used, or null. */
export function outputPatternProblem(pattern: string): string | null {
  const dot = pattern.lastIndexOf('.');
  if (dot <= 0 || dot === pattern.length - 1) return `expected "component-id.property" (for example "salary-table.data"), got ${JSON.stringify(pattern)}`;
  const property = pattern.slice(dot + 1);
  if (!/^[A-Za-z0-9_*]+$/.test(property)) return `the property of ${JSON.stringify(pattern)} may hold letters, digits, "_" and "*"`;
  return componentPatternProblem(pattern.slice(0, dot));
}

/** Why a component id pattern ("report-*", or a JSON id for pattern-matching components) cannot be used, or null. */
export function componentPatternProblem(id: string): string | null {
  if (id === '') return 'expected a component id such as "report-figures" or "report-*"';
  if (!id.startsWith('{')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(id);
  } catch {
    return `the id ${JSON.stringify(id)} starts with "{" but is not JSON; write pattern-matching ids like {"type":"salary-cell","index":"*"}`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length === 0) return `the id ${JSON.stringify(id)} must be a JSON object with at least one key`;
  for (const [key, value] of Object.entries(parsed)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) return `key "${key}" in ${JSON.stringify(id)} must be a string, number, boolean or "*"`;
  }
  return null;
}

/** Compiles one output pattern into a predicate over outputs. */
export function compileOutputPattern(pattern: string): (output: CallbackOutput) => boolean {
  const dot = pattern.lastIndexOf('.');
  const idMatches = compileComponentPattern(pattern.slice(0, dot));
  const propertyMatches = compileGlob(pattern.slice(dot + 1));
  return (output) => propertyMatches.test(output.property) && idMatches(output.id);
}

/**
 * Compiles a component id pattern into a predicate over ids. A string glob also looks at
 * pattern-matching ids in their JSON spelling: "*salary*" catches {"type":"salary-cell"} too.
 * Matching more only ever protects more.
 */
export function compileComponentPattern(idText: string): (id: CallbackOutput['id']) => boolean {
  if (idText.startsWith('{')) {
    const wanted = Object.entries(JSON.parse(idText) as Record<string, unknown>);
    return (id) => typeof id === 'object' && wanted.every(([key, value]) => key in id && valueMatches(value, id[key]));
  }
  const glob = compileGlob(idText);
  return (id) => glob.test(typeof id === 'string' ? id : stableJson(id));
}

/** A pattern value against an id value: "*" is anything; a request wildcard (["ALL"], ["MATCH"], …) may stand for anything. */
function valueMatches(wanted: unknown, actual: unknown): boolean {
  if (wanted === '*') return true;
  if (Array.isArray(actual)) return true;
  if (typeof wanted === 'string' && typeof actual === 'string' && wanted.includes('*')) return compileGlob(wanted).test(actual);
  return wanted === actual;
}

function stableJson(id: Record<string, unknown>): string {
  return `{${Object.keys(id)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${JSON.stringify(id[key])}`)
    .join(',')}}`;
}

export class CallbackRules {
  private readonly rules: CompiledCallbackRule[];

  constructor(inputs: readonly CallbackRuleInput[]) {
    this.rules = inputs.map((input, i) => {
      const matchers = input.outputs.map(compileOutputPattern);
      return {
        index: i,
        label: input.name ?? input.outputs.join(', '),
        policy: compilePolicy(input),
        matches: (output: CallbackOutput) => matchers.some((m) => m(output)),
      };
    });
  }

  get size(): number {
    return this.rules.length;
  }

  /** Each rule with whether it applies to these outputs and what it says: for `access explain`. */
  explain(outputs: readonly CallbackOutput[], user: User | null): string[] {
    return this.rules.map((rule) => {
      const name = `callback rule ${rule.index + 1}: ${rule.label}`;
      if (!outputs.some(rule.matches)) return `  ${name} → does not apply`;
      const verdict = evaluatePolicy(rule.policy, user);
      return `  ${name} → applies (${describePolicy(rule.policy)}): ${verdict === 'allow' ? 'allows' : verdict === 'login_required' ? 'needs sign-in' : 'refuses'}`;
    });
  }

  /**
   * Judges a callback's outputs: every rule that matches any of them must allow. The first
   * refusal decides; "sign in" wins over "forbidden" only for anonymous callers, naturally.
   */
  judge(outputs: readonly CallbackOutput[], user: User | null): CallbackJudgement {
    let last: CallbackJudgement = ALLOWED;
    for (const rule of this.rules) {
      if (!outputs.some(rule.matches)) continue;
      const verdict = evaluatePolicy(rule.policy, user);
      const judgement = { verdict, rule: { index: rule.index, label: rule.label, policy: describePolicy(rule.policy) } };
      if (verdict !== 'allow') return judgement;
      last = judgement;
    }
    return last;
  }
}

/**
 * Parses an output as written on the command line or in a rule ("tbl.data",
 * '{"type":"cell","index":3}.children') into the shape callback bodies produce.
 */
export function parseOutputSpec(text: string): CallbackOutput {
  return splitOutputId(text);
}

/** True for Dash's callback endpoint at any prefix: the last segment is `_dash-update-component`. */
export function isCallbackPath(matchPath: string): boolean {
  return /\/_dash-update-component\/?$/.test(matchPath);
}

/** True for Dash's WebSocket callback endpoint (Dash 4 `websocket_callbacks`), whose messages the gateway cannot judge. */
export function isWebSocketCallbackPath(matchPath: string): boolean {
  return /\/_dash-ws-callback\/?$/.test(matchPath);
}

/**
 * The outputs a callback body names, read exactly the way Dash reads them (`split_callback_id`):
 * throws BAD_CALLBACK for anything Dash itself could not dispatch, so a body the gateway cannot
 * judge never reaches the app.
 */
export function callbackOutputs(body: unknown): CallbackOutput[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GatewayError('BAD_CALLBACK');
  const { output, outputs } = body as { output?: unknown; outputs?: unknown };
  if (typeof output !== 'string' || output === '') throw new GatewayError('BAD_CALLBACK');
  const found: CallbackOutput[] = [];
  const parts = output.startsWith('..') ? output.slice(2, -2).split('...') : [output];
  for (const part of parts) found.push(splitOutputId(part));
  if (outputs !== undefined && outputs !== null) collectOutputs(outputs, found, 0);
  return found;
}

/**
 * Every component a callback touches: the outputs its body names (Dash checks those against the
 * declaration) and the inputs and state the app declared for it (the body's ids are never
 * believed: Dash takes arguments by position).
 */
export function callbackComponents(declaredCallback: DeclaredCallback, outputs: readonly CallbackOutput[]): Array<CallbackOutput['id']> {
  return [...outputs.map((o) => o.id), ...declaredCallback.inputs.map((d) => d.id), ...declaredCallback.state.map((d) => d.id)];
}

/** "tbl.data" → {id: "tbl", property: "data"}; dots in ids arrive escaped ("a\.b"); "@hash" is dropped. */
function splitOutputId(text: string): CallbackOutput {
  const dot = text.lastIndexOf('.');
  const rawId = dot === -1 ? text : text.slice(0, dot);
  const property = (dot === -1 ? '' : text.slice(dot + 1)).split('@', 1)[0]!;
  const id = rawId.replace(/\\\./g, '.');
  return { id: id.startsWith('{') ? (parseDictId(id) ?? id) : id, property };
}

function parseDictId(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `outputs` is one {id, property}, or a list of them, or (for ALL wildcards) lists of lists. */
function collectOutputs(value: unknown, into: CallbackOutput[], depth: number): void {
  if (depth > 3) throw new GatewayError('BAD_CALLBACK');
  if (Array.isArray(value)) {
    for (const item of value) collectOutputs(item, into, depth + 1);
    return;
  }
  if (typeof value !== 'object' || value === null) throw new GatewayError('BAD_CALLBACK');
  const { id, property } = value as { id?: unknown; property?: unknown };
  if (typeof property !== 'string' || !(typeof id === 'string' || (typeof id === 'object' && id !== null && !Array.isArray(id)))) throw new GatewayError('BAD_CALLBACK');
  into.push({ id: id as CallbackOutput['id'], property: property.split('@', 1)[0]! });
}

/**
 * Reads a request body of at most `limit` bytes (413 beyond it, before reading when
 * Content-Length says so). Compressed bodies are refused: the app would read other bytes than
 * the gateway judged.
 */
export async function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') throw new GatewayError('UNSUPPORTED_ENCODING');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new GatewayError('PAYLOAD_TOO_LARGE');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new GatewayError('PAYLOAD_TOO_LARGE');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
