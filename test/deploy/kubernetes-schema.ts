import { join } from 'node:path';
import ts from 'typescript';
import { ConfigMap, Service, ServiceAccount, PersistentVolumeClaim } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { REPO_ROOT } from '../helpers/browser.js';

/**
 * Offline validation of Kubernetes objects against the API's schemas, as kubernetes-models
 * generates them from the Kubernetes OpenAPI document (and the Prometheus operator's CRD):
 * `validate()` checks types, formats and required fields; the TypeScript interfaces of the same
 * models catch what `validate()` lets through, a field the API does not have (`securityContxt`),
 * which the API server would drop without a word.
 */
interface KindModel {
  /** Runs the generated JSON-schema validator; throws with the problems. */
  validate(doc: unknown): void;
  /** Module and interface name of the model's TypeScript type. */
  typeImport: string;
  typeName: string;
}

const MODELS: Record<string, KindModel> = {
  'v1/ConfigMap': { validate: (d) => new ConfigMap(d as never).validate(), typeImport: 'kubernetes-models/v1', typeName: 'IConfigMap' },
  'v1/Service': { validate: (d) => new Service(d as never).validate(), typeImport: 'kubernetes-models/v1', typeName: 'IService' },
  'v1/ServiceAccount': { validate: (d) => new ServiceAccount(d as never).validate(), typeImport: 'kubernetes-models/v1', typeName: 'IServiceAccount' },
  'v1/PersistentVolumeClaim': { validate: (d) => new PersistentVolumeClaim(d as never).validate(), typeImport: 'kubernetes-models/v1', typeName: 'IPersistentVolumeClaim' },
  'apps/v1/Deployment': { validate: (d) => new Deployment(d as never).validate(), typeImport: 'kubernetes-models/apps/v1', typeName: 'IDeployment' },
  'autoscaling/v2/HorizontalPodAutoscaler': { validate: (d) => new HorizontalPodAutoscaler(d as never).validate(), typeImport: 'kubernetes-models/autoscaling/v2', typeName: 'IHorizontalPodAutoscaler' },
  'networking.k8s.io/v1/NetworkPolicy': { validate: (d) => new NetworkPolicy(d as never).validate(), typeImport: 'kubernetes-models/networking.k8s.io/v1', typeName: 'INetworkPolicy' },
  'policy/v1/PodDisruptionBudget': { validate: (d) => new PodDisruptionBudget(d as never).validate(), typeImport: 'kubernetes-models/policy/v1', typeName: 'IPodDisruptionBudget' },
  'monitoring.coreos.com/v1/ServiceMonitor': { validate: (d) => new ServiceMonitor(d as never).validate(), typeImport: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1', typeName: 'IServiceMonitor' },
};

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The model for an object's apiVersion and kind, or null for a kind this validator does not know. */
function modelOf(doc: K8sObject): KindModel | null {
  return MODELS[`${doc.apiVersion}/${doc.kind}`] ?? null;
}

/** Problems of each object by the generated JSON-schema validators (empty: all valid). */
export function schemaProblems(docs: readonly { source: string; doc: K8sObject }[]): string[] {
  return docs.flatMap(({ source, doc }) => {
    const model = modelOf(doc);
    if (!model) return [`${source}: no schema for ${doc.apiVersion} ${doc.kind}`];
    try {
      model.validate(doc);
      return [];
    } catch (err) {
      return [`${source}: ${(err as Error).message}`];
    }
  });
}

/**
 * Fields the API does not define, found by type-checking each object as an object literal of
 * its model's interface (excess property checks reach every depth). One compiler run for all.
 */
export function unknownFieldProblems(docs: readonly { source: string; doc: K8sObject }[]): string[] {
  const lines: string[] = [];
  const owners: string[] = [];
  docs.forEach(({ source, doc }, i) => {
    const model = modelOf(doc);
    if (!model) return;
    lines.push(`import type { ${model.typeName} as T${i} } from '${model.typeImport}';`);
    const body = `export const doc${i}: T${i} = ${JSON.stringify(doc, null, 1)};`;
    for (const line of body.split('\n')) {
      lines.push(line);
      owners[lines.length - 1] = source;
    }
  });
  const fileName = join(REPO_ROOT, 'test/deploy/__manifests__.ts');
  const text = lines.join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (path) => (path === fileName ? text : readFile(path));
  host.fileExists = (path) => path === fileName || ts.sys.fileExists(path);
  host.getSourceFile = (path, language) => (path === fileName ? ts.createSourceFile(path, text, language) : getSourceFile(path, language));
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').at(-1) ?? '';
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${owners[line] ?? d.file.fileName}: ${message} (near ${JSON.stringify(d.file.text.split('\n')[line]?.trim())})`;
  });
}
