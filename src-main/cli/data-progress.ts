/** A dataset's loading progress as the CLI shows it on stderr (`datasets fetch|generate`, and `train`). */
import { fmtInt } from '../data/format';
import type { DataProgress } from '../data/types';

/**
 * The events of `phases`, each as a JSON line with `json`; else a line when a source is skipped (and why), and when
 * a download or a generation starts. `train` asks for skips and downloads only (its progress bar follows).
 */
export function progressPrinter(
  json: boolean,
  phases: readonly DataProgress['phase'][] = ['skip', 'download', 'generate', 'verify'],
): (p: DataProgress) => void {
  if (json) return (p) => phases.includes(p.phase) && process.stderr.write(JSON.stringify(p) + '\n');
  const started = new Set<string>();
  const once = (key: string, line: string) => {
    if (started.has(key)) return;
    started.add(key);
    process.stderr.write(line + '\n');
  };
  return (p) => {
    if (!phases.includes(p.phase)) return;
    if (p.phase === 'skip') process.stderr.write(`skipped the ${p.source} copy in ${p.path}: ${p.reason}\n`);
    // Per file and mirror: a mirror tried after another failed is named too.
    else if (p.phase === 'download') once(p.url, `downloading ${p.file} from ${p.url}`);
    else if (p.phase === 'generate') once(p.split, `generating ${fmtInt(p.total)} ${p.split === 'train' ? 'training' : 'test'} images`);
  };
}
