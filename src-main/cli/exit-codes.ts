/** `odelab` exit codes (documented in `odelab --help` and the README). */
export const EXIT = {
  OK: 0,
  /** The run ended failed or diverged, or a command could not do its work. */
  FAILED: 1,
  /** Invalid flags, config or arguments: nothing was run. */
  USAGE: 2,
  /** Cancelled by the user (Ctrl-C). */
  CANCELLED: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0    success (a run that completed)
  1    the run failed or diverged, or the command could not do its work
  2    invalid flags, configuration or arguments (nothing was run)
  130  cancelled (Ctrl-C, odelab runs cancel)
  143  train or runs resume stopped by SIGTERM (129: SIGHUP; 149: Ctrl-Break on Windows): the run is
       recorded cancelled, then the process ends by that signal`;
