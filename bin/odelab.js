#!/usr/bin/env node
// The CLI runs from TypeScript sources through tsx (the training process is forked the same way).
import { register } from 'tsx/esm/api';

register();
await import('../src-main/cli/main.ts');
