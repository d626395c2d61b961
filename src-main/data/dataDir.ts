/**
 * Where the lab keeps datasets: `ODELAB_DATA_DIR`, else the platform's per-user app-data folder, + `/datasets`.
 * Parameters are injectable so the per-platform rules are testable on any machine.
 */
import { homedir } from 'node:os';
import path from 'node:path';

const APP = 'neural-ode-lab';

export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  if (env.ODELAB_DATA_DIR) return path.resolve(env.ODELAB_DATA_DIR);
  // Path flavour follows the target platform, not the host, so a Windows path is built with `\` even in tests.
  const p = platform === 'win32' ? path.win32 : path.posix;
  let appData: string;
  if (platform === 'win32') appData = p.join(env.APPDATA ?? p.join(home, 'AppData', 'Roaming'), APP);
  else if (platform === 'darwin') appData = p.join(home, 'Library', 'Application Support', APP);
  else appData = p.join(env.XDG_DATA_HOME || p.join(home, '.local', 'share'), APP);
  return p.join(appData, 'datasets');
}
