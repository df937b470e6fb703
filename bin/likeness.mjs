#!/usr/bin/env node
// The `likeness` command. Sources are TypeScript run through tsx's loader, so there is no
// separate build step between `npm install` and `npm start`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
