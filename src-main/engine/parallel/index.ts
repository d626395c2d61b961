/** Data-parallel training steps: a pool of gradient workers and the sharding it uses. */
export { GradientWorkerPool, type GradientPoolOptions, type PoolGradients, type ShardReport } from './gradient-pool';
export { shardRanges, combineShards, totalStats, type ShardRange, type CombinedGradients } from './shards';
export type { ShardOdeStats, WorkerSetup } from './protocol';
