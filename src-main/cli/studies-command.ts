/**
 * `odelab studies (list|show|add|remove|delete)`: the run store's studies — named groups of runs — from the command
 * line. `odelab train --study <name>` adds a run as it starts; these list the studies, show one's runs (as
 * `runs list` prints them), and add or remove runs already stored. `--json` prints one JSON document, indented.
 */
import { Command } from 'commander';
import { LabError } from '../../src-shared/errors';
import { addToStudy, deleteStudy, getStudy, listRuns, listStudies, removeRunsFromStudy, type StudySummary } from '../store';
import { nonEmpty, runIds } from './option-parsers';
import { describeRuns, printRuns, type ListedRun } from './runs-command';
import { dbOption, withStore } from './store-options';
import { jsonOption, printJson } from './json-output';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** Notes on one line of a listing. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

function studyLines(studies: StudySummary[]): string {
  if (studies.length === 0) return 'no studies\n';
  const width = Math.max(...studies.map((s) => s.name.length));
  return (
    studies
      .map((s) => [s.name.padEnd(width), plural(s.runs, 'run').padStart(9), ` created ${s.createdAt}`, ...(s.notes ? [` ${oneLine(s.notes)}`] : [])].join(' '))
      .join('\n') + '\n'
  );
}

function listCommand(): Command {
  return new Command('list')
    .description('the studies: name, how many runs, when created, notes')
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((opts: { db?: string; json?: boolean }) =>
      withStore(
        opts.db,
        (store) => {
          const studies = listStudies(store.db);
          if (opts.json) printJson(studies.map(({ name, runs, createdAt, notes }) => ({ name, runCount: runs, createdAt, notes })));
          else process.stdout.write(studyLines(studies));
        },
        { existing: true, emptyIfDefaultAbsent: true },
      ),
    );
}

function showCommand(): Command {
  return new Command('show')
    .description("a study: its notes, grid and runs (as runs list shows them, newest first)")
    .argument('<name>', 'study name', nonEmpty)
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((name: string, opts: { db?: string; json?: boolean }) =>
      withStore(
        opts.db,
        (store) => {
          const study = getStudy(store.db, name);
          const runs: ListedRun[] = describeRuns(store.db, listRuns(store.db, { studyId: study.id }));
          if (opts.json) {
            printJson({ name: study.name, createdAt: study.createdAt, notes: study.notes, grid: study.grid, runs });
            return;
          }
          const header = [
            `study ${study.name}: ${plural(runs.length, 'run')}, created ${study.createdAt}`,
            ...(study.notes ? [`notes: ${study.notes}`] : []),
            ...(Object.keys(study.grid).length ? [`grid: ${JSON.stringify(study.grid)}`] : []),
          ];
          process.stdout.write(header.join('\n') + '\n');
          printRuns(runs, false);
        },
        { existing: true },
      ),
    );
}

function addCommand(): Command {
  return new Command('add')
    .description('add stored runs to a study, created if new (all or nothing: an unknown run id adds none)')
    .argument('<name>', 'study name', nonEmpty)
    .argument('[ids...]', 'run ids')
    .option('--notes <text>', "replace the study's notes")
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((name: string, ids: string[] | undefined, opts: { notes?: string; db?: string; json?: boolean }) => {
      const list = runIds(ids ?? []);
      if (list.length === 0 && opts.notes === undefined) {
        throw new LabError('INVALID_ARGUMENT', 'ids: give the run ids to add (or --notes to annotate the study)', { field: 'ids' });
      }
      return withStore(
        opts.db,
        (store) => {
          const result = addToStudy(store.db, name, list, { notes: opts.notes });
          if (opts.json) {
            printJson({ name, created: result.created, added: result.added, already: result.already });
            return;
          }
          const parts = [
            `${result.created ? 'created study' : 'study'} ${name}: added ${plural(result.added.length, 'run')}${result.added.length ? ` (${result.added.join(', ')})` : ''}`,
            ...(result.already.length ? [`already in it: ${result.already.join(', ')}`] : []),
            ...(opts.notes !== undefined ? ['notes replaced'] : []),
          ];
          process.stdout.write(parts.join('; ') + '\n');
        },
        { existing: true },
      );
    });
}

function removeCommand(): Command {
  return new Command('remove')
    .description('take runs out of a study; the runs stay in the store (all or nothing: an id not in the study removes none)')
    .argument('<name>', 'study name', nonEmpty)
    .argument('<ids...>', 'run ids')
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((name: string, ids: string[], opts: { db?: string; json?: boolean }) => {
      const list = runIds(ids);
      return withStore(
        opts.db,
        (store) => {
          const { removed } = removeRunsFromStudy(store.db, name, list);
          if (opts.json) printJson({ name, removed });
          else process.stdout.write(`study ${name}: removed ${plural(removed.length, 'run')} (${removed.join(', ')}); the runs are kept\n`);
        },
        { existing: true },
      );
    });
}

function deleteCommand(): Command {
  return new Command('delete')
    .description('delete a study (its name, grid, notes and membership); its runs are kept')
    .argument('<name>', 'study name', nonEmpty)
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((name: string, opts: { db?: string; json?: boolean }) =>
      withStore(
        opts.db,
        (store) => {
          const { runIds } = deleteStudy(store.db, name);
          if (opts.json) printJson({ deleted: name, runIds });
          else process.stdout.write(`deleted study ${name}; its ${plural(runIds.length, 'run')} ${runIds.length === 1 ? 'is' : 'are'} kept\n`);
        },
        { existing: true },
      ),
    );
}

export function studiesCommand(): Command {
  const studies = new Command('studies').description('named groups of runs (odelab train --study <name> adds to one): list, show, add, remove, delete');
  for (const sub of [listCommand(), showCommand(), addCommand(), removeCommand(), deleteCommand()]) studies.addCommand(sub);
  return studies;
}
