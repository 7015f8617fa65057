import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../helpers/browser.js';
import { schemaProblems, unknownFieldProblems, type K8sObject } from './kubernetes-schema.js';
import { configProblems } from './pending-settings.js';

// deploy/kubernetes/ is what `helm template dashgate deploy/helm/dashgate -f
// deploy/helm/kubernetes-values.yaml` renders (see deploy/kubernetes/README.md): checked here
// against the Kubernetes API schemas, against Dashgate's own configuration schema, and for
// what the chart promises (non-root, read-only root, probes, rollouts without a failed request).

const MANIFESTS_DIR = join(REPO_ROOT, 'deploy/kubernetes');
const CHART_DIR = join(REPO_ROOT, 'deploy/helm/dashgate');

function readManifests(dir: string): { source: string; doc: K8sObject }[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .flatMap((name) =>
      parseAllDocuments(readFileSync(join(dir, name), 'utf8'))
        .map((d) => d.toJS() as K8sObject | null)
        .filter((doc): doc is K8sObject => doc !== null)
        .map((doc) => ({ source: `${name} (${doc.kind} ${doc.metadata?.name})`, doc })),
    );
}

const manifests = readManifests(MANIFESTS_DIR);
function one<T = K8sObject>(kind: string): T {
  const found = manifests.filter((m) => m.doc.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} in deploy/kubernetes`);
  return found[0]!.doc as T;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are checked field by field below */
const deployment = one<any>('Deployment');
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c: any) => c.name === 'dashgate');
const configMap = one<any>('ConfigMap');

test('every manifest is valid for its Kubernetes API version (generated JSON schemas)', () => {
  assert.ok(manifests.length >= 6, 'the manifests were read');
  assert.deepEqual(schemaProblems(manifests), []);
});

test('no manifest has a field the Kubernetes API does not define', () => {
  assert.deepEqual(unknownFieldProblems(manifests), []);
});

test('the validators catch a misspelt field, a wrong type and a missing field (the checks can fail)', () => {
  const broken = structuredClone(deployment);
  broken.spec.template.spec.containers[0].securityContxt = { runAsNonRoot: true };
  assert.match(unknownFieldProblems([{ source: 'typo', doc: broken }]).join('\n'), /securityContxt/);
  const wrongType = structuredClone(deployment);
  wrongType.spec.replicas = 'three';
  assert.match(schemaProblems([{ source: 'type', doc: wrongType }]).join('\n'), /replicas must be integer/);
  const missing = structuredClone(deployment);
  delete missing.spec.selector;
  assert.match(schemaProblems([{ source: 'missing', doc: missing }]).join('\n'), /selector/);
});

test("the ConfigMap's dashgate.yaml with the Deployment's environment is a valid Dashgate configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), 'dashgate-manifests-'));
  try {
    const file = join(dir, 'dashgate.yaml');
    writeFileSync(file, configMap.data['dashgate.yaml']);
    // Values from Secrets replaced by ones of the right shape; plain values as written.
    const stand_ins: Record<string, string> = { DASHGATE_DATABASE__URL: 'postgres://dashgate:secret@postgres:5432/dashgate' };
    const env: Record<string, string> = {};
    for (const variable of container.env as { name: string; value?: string }[]) env[variable.name] = variable.value ?? stand_ins[variable.name] ?? 'a-secret-value-of-at-least-32-characters';
    const problems = configProblems(file, env);
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the pod runs unprivileged: non-root uid 10001, read-only root, no capabilities, RuntimeDefault seccomp', () => {
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 10001, "the image's user");
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  assert.equal(container.securityContext.capabilities.add, undefined);
  assert.equal(pod.automountServiceAccountToken, false);
  const mounts = new Map((container.volumeMounts as { name: string; mountPath: string }[]).map((m) => [m.mountPath, m.name]));
  for (const path of ['/data', '/tmp', '/etc/dashgate']) assert.ok(mounts.has(path), `${path} is a volume (the root filesystem is read-only)`);
});

test('probes: liveness and startup on /_dashgate/health, readiness on /_dashgate/ready, on the http port', () => {
  assert.equal(container.livenessProbe.httpGet.path, '/_dashgate/health');
  assert.equal(container.startupProbe.httpGet.path, '/_dashgate/health');
  assert.equal(container.readinessProbe.httpGet.path, '/_dashgate/ready');
  for (const probe of [container.livenessProbe, container.startupProbe, container.readinessProbe]) assert.equal(probe.httpGet.port, 'http');
  assert.ok(container.ports.some((p: any) => p.name === 'http' && p.containerPort === 8000));
});

test('a rollout never has fewer ready pods, and the grace period outlasts the pre-stop pause plus the drain', () => {
  assert.equal(deployment.spec.strategy.type, 'RollingUpdate');
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  assert.ok(deployment.spec.replicas >= 2, 'several replicas');
  const preStop = container.lifecycle.preStop.exec.command as string[];
  assert.equal(preStop[0], 'sleep');
  const drain = (parseYaml(configMap.data['dashgate.yaml']) as { server?: { drain_timeout?: string } }).server?.drain_timeout ?? '10s';
  assert.match(drain, /^\d+s$/);
  assert.ok(pod.terminationGracePeriodSeconds > Number(preStop[1]) + Number.parseInt(drain, 10), `${pod.terminationGracePeriodSeconds} s > ${preStop[1]} s + ${drain}`);
  const pdb = one<any>('PodDisruptionBudget');
  assert.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable !== undefined);
});

test('Service, PodDisruptionBudget, NetworkPolicy and ServiceMonitor select the pods, by ports the pod has', () => {
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  assert.ok(selects(deployment.spec.selector.matchLabels));
  assert.ok(selects(one<any>('Service').spec.selector));
  assert.ok(selects(one<any>('PodDisruptionBudget').spec.selector.matchLabels));
  assert.ok(selects(one<any>('NetworkPolicy').spec.podSelector.matchLabels));
  const portNames = new Set((container.ports as { name: string }[]).map((p) => p.name));
  for (const port of one<any>('Service').spec.ports) assert.ok(portNames.has(port.targetPort), `Service targets ${port.targetPort}`);
  for (const rule of one<any>('NetworkPolicy').spec.ingress) for (const port of rule.ports) assert.ok(portNames.has(port.port), `NetworkPolicy port ${port.port}`);
  const monitor = one<any>('ServiceMonitor');
  const service = one<any>('Service');
  assert.ok(Object.entries(monitor.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => service.metadata.labels[k] === v), 'the ServiceMonitor selects the Service');
  assert.ok(service.spec.ports.some((p: any) => p.name === monitor.spec.endpoints[0].port), 'by a port the Service has');
  assert.ok(portNames.has('metrics'));
});

test('secrets come from Secrets: the database URL is never in the ConfigMap or a plain value', () => {
  assert.doesNotMatch(configMap.data['dashgate.yaml'], /postgres(ql)?:\/\//);
  const database = container.env.find((e: any) => e.name === 'DASHGATE_DATABASE__URL');
  assert.ok(database?.valueFrom?.secretKeyRef?.name, 'DASHGATE_DATABASE__URL from a Secret');
  assert.equal(database.value, undefined);
});

test("checksum/config is the ConfigMap's dashgate.yaml, so a changed configuration rolls the pods", () => {
  const rendered = (configMap.data['dashgate.yaml'] as string).replace(/\n$/, '');
  assert.equal(deployment.spec.template.metadata.annotations['checksum/config'], createHash('sha256').update(rendered).digest('hex'));
});

test('every chart template is rendered in deploy/kubernetes or switched off by its values', () => {
  const off = new Set(['hpa.yaml', 'pvc.yaml']);
  const templates = readdirSync(join(CHART_DIR, 'templates')).filter((name) => name.endsWith('.yaml'));
  const rendered = new Set(readdirSync(MANIFESTS_DIR).filter((name) => name.endsWith('.yaml')));
  assert.deepEqual(templates.filter((name) => !off.has(name) && !rendered.has(name)), []);
  assert.deepEqual([...rendered].filter((name) => !templates.includes(name)), []);
  const chart = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(chart.appVersion, pkg.version, "the chart's appVersion is the package's version");
  assert.equal(container.image, `dashgate:${pkg.version}`);
});

function helmBinary(): string | null {
  try {
    execFileSync('helm', ['version', '--short'], { stdio: 'ignore' });
    return 'helm';
  } catch {
    return null;
  }
}

test('helm template renders exactly deploy/kubernetes', { skip: helmBinary() === null ? 'no helm binary on this machine (none in Debian or npm): the manifests were written by hand from the templates' : false }, () => {
  const out = execFileSync('helm', ['template', 'dashgate', CHART_DIR, '-f', join(REPO_ROOT, 'deploy/helm/kubernetes-values.yaml')], { encoding: 'utf8' });
  const fromHelm = parseAllDocuments(out).map((d) => d.toJS() as K8sObject).filter(Boolean);
  const key = (doc: K8sObject) => `${doc.kind}/${doc.metadata.name}`;
  assert.deepEqual(new Map(fromHelm.map((doc) => [key(doc), doc])), new Map(manifests.map(({ doc }) => [key(doc), doc])));
});
