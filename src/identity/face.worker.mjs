// Entry of a face worker thread. Worker threads do not inherit the parent's TypeScript loader,
// so this plain-JS file registers tsx in the worker and then loads the TypeScript worker body.
import { register } from 'tsx/esm/api';

register();
await import('./face.worker.ts');
