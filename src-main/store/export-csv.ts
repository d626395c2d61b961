/**
 * CSV of the metric tables (batch, epoch, in-epoch evaluations) for spreadsheets and pandas.
 */
import type { Db } from './database';
import { column, METRIC_TABLES } from './export-format';
import { readRows, runRows, uniqueIds } from './export-rows';

const CSV_TABLES = { batch: METRIC_TABLES.batchMetrics, epoch: METRIC_TABLES.epochMetrics, evaluation: METRIC_TABLES.evaluations } as const;
export type CsvTable = keyof typeof CSV_TABLES;

/**
 * An RFC 4180 field: quoted when it holds a quote, comma or line break. Numbers print as the shortest text that
 * reads back to the same double (SQLite keeps no −0); a missing value (a NULL test loss: SQLite stores NaN as
 * NULL) is an empty field, which spreadsheets show blank and pandas reads as NaN.
 */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRecord(values: (string | number | null)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/**
 * The runs' batch or epoch metrics, or in-epoch evaluations (--eval-every), as RFC 4180 CSV (CRLF line ends, a header row), runs in the order given:
 * run_id and run_name first, then the table's columns by their SQL names.
 */
export function exportCsv(db: Db, runIds: number[], table: CsvTable): string {
  const t = CSV_TABLES[table];
  return db.transaction(() => {
    const runs = runRows(db, uniqueIds(runIds));
    const lines = [csvRecord(['run_id', 'run_name', ...t.keys.map(column)])];
    for (const run of runs) {
      for (const row of readRows(db, t, run.id as number)) lines.push(csvRecord([run.id as number, run.name as string, ...row]));
    }
    return lines.join('');
  })();
}
