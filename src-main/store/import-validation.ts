/**
 * An export document checked before anything is imported: format and version first, then the schema
 * (export-format.ts), then what a schema cannot see — every run's config one this version can use, every
 * checkpoint whole. Each refusal is INVALID_ARGUMENT naming the fields. Apart from the import (import.ts) so that
 * a file can be checked before a store is opened.
 */
import { z } from 'zod';
import { describeIssues } from '../../src-shared/config';
import { LabError } from '../../src-shared/errors';
import { droppedKeys, readStoredConfig, RunConfig } from '../../src-shared/run-config';
import { checkpointProblem } from './checkpoints';
import { resumePointProblem } from './resume-points';
import { EXPORT_FORMAT, EXPORT_VERSION, ExportDocument, type RunExport } from './export-format';
import { SCHEMA_VERSION } from './migrations';

/** A refusal of the document: INVALID_ARGUMENT. */
export const invalid = (message: string, details: Record<string, unknown> = {}) => new LabError('INVALID_ARGUMENT', message, details);

/** Format and version first, so a newer export is refused as such rather than as a list of unknown fields. */
function assertReadableVersion(input: unknown): void {
  const doc = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  if (doc.format !== EXPORT_FORMAT) {
    throw invalid(`format: not a Neural ODE Lab run export (expected '${EXPORT_FORMAT}', found ${JSON.stringify(doc.format) ?? 'nothing'})`, {
      field: 'format',
    });
  }
  if (typeof doc.version === 'number' && doc.version > EXPORT_VERSION) {
    throw invalid(
      `version: this export was written by a newer Neural ODE Lab (export format version ${doc.version}; this version reads up to ${EXPORT_VERSION}); update the lab to import it`,
      { field: 'version', version: doc.version, supported: EXPORT_VERSION },
    );
  }
}

const MAX_ISSUES_SHOWN = 5;

/** `field: reason` lines for at most MAX_ISSUES_SHOWN issues, and the issues as details. */
function issueReport(issues: z.core.$ZodIssue[]): { text: string; details: { path: string; message: string }[] } {
  const shown = new z.ZodError(issues.slice(0, MAX_ISSUES_SHOWN));
  const more = issues.length > MAX_ISSUES_SHOWN ? `\n(and ${issues.length - MAX_ISSUES_SHOWN} more)` : '';
  return { text: describeIssues(shown) + more, details: issues.slice(0, 100).map((i) => ({ path: i.path.join('.'), message: i.message })) };
}

/** A run as refusals name it: `run 7 ("name")`. */
export const runLabel = (run: RunExport) => `run ${run.id} (${JSON.stringify(run.name)})`;

/**
 * Every run's config must be one this version can train, resume and evaluate (readStoredConfig), or the import
 * is refused naming the run and the field. Settings this version does not know mean a newer lab exported the run;
 * so do invalid values when the exporting store's schema is newer than ours. Both cases are reported as a newer
 * lab's export rather than as "invalid". (Settings added since an older lab exported a run read as their defaults,
 * which is what it did.)
 */
function assertUsableConfigs(doc: ExportDocument): void {
  const problems: { run: RunExport; issues: z.core.$ZodIssue[]; unknown: boolean }[] = [];
  doc.runs.forEach((run, i) => {
    if (readStoredConfig(run.config)) return;
    const prefix = ['runs', i, 'config'];
    const parsed = RunConfig.safeParse(run.config);
    if (!parsed.success) {
      problems.push({ run, unknown: false, issues: parsed.error.issues.map((issue) => ({ ...issue, path: [...prefix, ...issue.path] })) });
      return;
    }
    const issues = droppedKeys(run.config, parsed.data).map(
      (path): z.core.$ZodIssue => ({ code: 'custom', path: [...prefix, ...path], message: 'a setting this version of the lab does not know', input: undefined }),
    );
    problems.push({ run, unknown: true, issues });
  });
  if (problems.length === 0) return;
  const runs = problems.map((p) => p.run);
  const report = issueReport(problems.flatMap((p) => p.issues));
  const which = runs.length === 1 ? runLabel(runs[0]) : `${runs.length} runs (${runs.map((r) => r.id).join(', ')})`;
  const newer = doc.schemaVersion > SCHEMA_VERSION || problems.every((p) => p.unknown);
  const details = { field: report.details[0].path, runIds: runs.map((r) => r.id), issues: report.details };
  if (newer) {
    const by =
      doc.schemaVersion > SCHEMA_VERSION
        ? `written by a newer Neural ODE Lab (store schema version ${doc.schemaVersion}; this version understands up to ${SCHEMA_VERSION})`
        : 'probably written by a newer Neural ODE Lab';
    throw invalid(`the config of ${which} has settings this version of the lab does not know: the export was ${by}; update the lab to import it. Nothing was imported:\n${report.text}`, {
      ...details,
      newer: true,
    });
  }
  throw invalid(`the config of ${which} is not a valid run configuration; nothing was imported:\n${report.text}`, details);
}

/**
 * Every checkpoint must be whole: its data as long as its `bytes`, a checkpoint the engine reads (format, length,
 * checksum) and the one of its epoch and step (checkpointProblem). The store keeps checkpoints opaque, so one cut
 * short or damaged in the file would otherwise be imported and surface only at eval or resume. Refused naming each
 * run and epoch.
 */
function assertIntactCheckpoints(doc: ExportDocument): void {
  const issues: z.core.$ZodIssue[] = [];
  const damaged: string[] = [];
  doc.runs.forEach((run, i) =>
    run.checkpoints?.forEach((c, j) => {
      const problem = checkpointProblem(Buffer.from(c.data, 'base64'), c);
      if (!problem) return;
      issues.push({ code: 'custom', path: ['runs', i, 'checkpoints', j, 'data'], message: problem, input: undefined });
      damaged.push(`${runLabel(run)} at epoch ${c.epoch}`);
    }),
  );
  doc.runs.forEach((run, i) => {
    const p = run.resumePoint;
    const problem = p && resumePointProblem(Buffer.from(p.data, 'base64'), p);
    if (!problem) return;
    issues.push({ code: 'custom', path: ['runs', i, 'resumePoint', 'data'], message: problem, input: undefined });
    damaged.push(`${runLabel(run)}, resume point (epoch ${p.epoch}, batch ${p.batch})`);
  });
  if (issues.length === 0) return;
  const report = issueReport(issues);
  const which = damaged.length === 1 ? `the checkpoint of ${damaged[0]} is` : `${damaged.length} checkpoints are (${damaged.join('; ')})`;
  throw invalid(`${which} damaged in the export; nothing was imported:\n${report.text}`, { field: report.details[0].path, issues: report.details });
}

/**
 * The document validated, or INVALID_ARGUMENT naming the fields (`runs.0.batchMetrics.loss.3: …`); each run's
 * config (assertUsableConfigs) and checkpoints (assertIntactCheckpoints) included.
 */
export function parseExportDocument(input: unknown): ExportDocument {
  assertReadableVersion(input);
  const result = ExportDocument.safeParse(input);
  if (!result.success) {
    const report = issueReport(result.error.issues);
    throw invalid(`not a valid run export; nothing was imported:\n${report.text}`, { issues: report.details });
  }
  assertUsableConfigs(result.data);
  assertIntactCheckpoints(result.data);
  return result.data;
}

