/**
 * Finds a Chromium for browser tests the way users have one, and never downloads anything:
 *   1. CHROMIUM_PATH, when set (an error if nothing is there);
 *   2. the system's Chromium or Chrome: `chromium`, `chromium-browser`, `google-chrome`,
 *      `google-chrome-stable` on PATH, or the usual macOS application paths;
 *   3. on Linux x64/arm64, the Chromium shipped inside the npm package @sparticuz/chromium (a
 *      dependency of this package): unpacked once from the installed package to /tmp/chromium.
 * The result spreads into playwright-core's `chromium.launch({ ...(await findBrowser()) })`.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface FoundBrowser {
  executablePath: string;
  /** Headless, no sandbox (containers run as root), no GPU, no traffic of its own. */
  args: string[];
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const MACOS_PATHS = ['/Applications/Chromium.app/Contents/MacOS/Chromium', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * @sparticuz/chromium is an ES module: asked in a child Node process, which works from any test
 * runner (jest's CommonJS sandbox cannot import() it). The binary ships brotli-compressed in the
 * package; executablePath() unpacks it (a few seconds the first time, then reused).
 */
function npmChromium(): string | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined;
  let entry: string;
  try {
    entry = require.resolve('@sparticuz/chromium');
  } catch {
    return undefined;
  }
  const script = `const { default: chromium } = await import(${JSON.stringify(pathToFileURL(entry).href)}); process.stdout.write(await chromium.executablePath());`;
  const found = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 }).trim();
  return found && executable(found) ? found : undefined;
}

export function findBrowser(): FoundBrowser {
  const given = process.env.CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given}: no such file`);
    return { executablePath: given, args: ARGS };
  }
  for (const name of SYSTEM_NAMES) {
    const found = onPath(name);
    if (found) return { executablePath: found, args: ARGS };
  }
  if (process.platform === 'darwin') {
    const found = MACOS_PATHS.find(executable);
    if (found) return { executablePath: found, args: ARGS };
  }
  const packaged = npmChromium();
  if (packaged) return { executablePath: packaged, args: ARGS };
  throw new Error(
    'no Chromium found: set CHROMIUM_PATH, install chromium or Google Chrome, or (Linux x64/arm64) install the dev dependencies (@sparticuz/chromium)',
  );
}
