/** A full garbage collection on demand, without starting Node with --expose-gc (the bench runs under ts-node and pnpm). */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
export const collectGarbage = runInNewContext('gc') as () => void;
