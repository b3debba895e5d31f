#!/usr/bin/env node
// Entry point of the `mirage` CLI. The CLI is written in TypeScript and shares src/core with the
// app; tsx compiles it on the fly so there is no separate build step for the command line.
import { register } from 'tsx/esm/api';
register();
await import('../cli/main.ts');
