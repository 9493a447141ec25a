// libs/substrates/wiring: how a jit process assembles its substrates from configuration. Only
// apps compose it (it is the one lib that knows every adapter).
export { SUBSTRATE_DEFINITIONS, createSubstrates, parseSubstrateSettings } from './substrate-settings';
export type { SubstrateInstances } from './substrate-settings';
export { substrateCatalog } from './substrate-catalog';
export { createPolicyTargetResolver } from './target-resolver';
export type { PolicyTargetResolverOptions } from './target-resolver';
