/** `--json`: every command but a run's event stream prints one JSON document, indented, on stdout. */
import { Option } from 'commander';

export const jsonOption = () => new Option('--json', 'output one JSON document');

export const printJson = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + '\n');
