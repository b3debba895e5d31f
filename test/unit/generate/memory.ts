// The in-memory ShardSink + ShardSource the generate tests import from here (one class, in src).
export { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
