/**
 * `odelab`: the lab from the command line. Errors are printed as `CODE: message` (a LabError names the field,
 * file or place); exit codes are listed in --help.
 */
import { Command, CommanderError } from 'commander';
import { isLabError } from '../../src-shared/errors';
import { handleBrokenPipe } from './broken-pipe';
import { datasetsCommand } from './datasets-command';
import { EXIT, EXIT_CODES_HELP } from './exit-codes';
import { evalCommand, modelsCommand, presetsCommand, solversCommand } from './info-commands';
import { trainCommand } from './train-command';
import { dbCommand, runsCommand } from './runs-command';
import { studiesCommand } from './studies-command';

handleBrokenPipe();

const program = new Command('odelab')
  .description('Neural ODE Lab: train neural-ODE image classifiers, swap ODE solvers, compare runs.')
  .addHelpText('after', EXIT_CODES_HELP)
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)');

/** Usage errors exit with code 2 (not commander's process.exit) at every level of subcommand. */
function configure(cmd: Command): Command {
  cmd.commands.forEach(configure);
  return cmd.exitOverride().showHelpAfterError().addHelpText('after', EXIT_CODES_HELP);
}

for (const cmd of [trainCommand(), evalCommand(), modelsCommand(), solversCommand(), presetsCommand(), datasetsCommand(), runsCommand(), studiesCommand(), dbCommand()]) {
  program.addCommand(configure(cmd));
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version are "errors" with exit code 0 in commander.
    process.exitCode = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  } else if (isLabError(e)) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = e.code === 'INVALID_ARGUMENT' ? EXIT.USAGE : e.code === 'CANCELLED' ? EXIT.CANCELLED : EXIT.FAILED;
  } else {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = EXIT.FAILED;
  }
}
