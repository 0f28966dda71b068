/** Child Node processes for multi-server tests: each one a real, separate server. */
import { type ChildProcess, spawn } from 'node:child_process';

export interface ChildServer {
  process: ChildProcess;
  /** What the child printed as `READY <json>` on its stdout. */
  info: Record<string, unknown>;
  /** Output so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `node script` and resolves once it prints a line `READY {...json...}`; rejects with
 * its output if it exits first or takes longer than `timeout`.
 */
export function startChild(script: string, env: Record<string, string>, { timeout = 20_000 } = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not print READY within ${timeout} ms:\n${output}`));
    }, timeout);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before READY:\n${output}`));
    };
    child.once('exit', onExit);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = output.split('\n').find((l) => l.startsWith('READY '));
      if (!line || ready) return;
      ready = true;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve({
        process: child,
        info: JSON.parse(line.slice('READY '.length)),
        output: () => output,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
